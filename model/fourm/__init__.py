"""The 4M network and what it stands on: modality registry, config, layers, checkpoint loading."""
