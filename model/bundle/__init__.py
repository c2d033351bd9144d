"""What every model bundle declares (input transforms, palette, space names) and where it is."""
