"""Numbers the docs quote, each tied to the result file it comes from, and the tool that
writes them: ``tests/docs/test_number_drift.py`` fails when a doc and its result file disagree,
and after a run regenerates result files this rewrites every quoted number from them.

    PYTHONPATH=. .venv/bin/python bench/quotes.py           # list what disagrees
    PYTHONPATH=. .venv/bin/python bench/quotes.py --write   # rewrite those numbers in the docs

A quote is one entry of :data:`QUOTES`: a doc, a pattern whose ``{N}`` are the quoted numbers, and
where each number is read in a result file (a markdown table row and which of its numbers). A
quoted number matches when it is the file's value rounded to as many decimals as it is written
with (a percentage: the value times 100). Only numbers move: a quote whose wording no longer
matches is reported, never guessed at.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.quoting import (
    RESULT_FOLDERS,
    ROOT,
    Cell,
    N,
    Quote,
    change,
    drift,
    flatten,
    old_and_new,
    percent,
    percent_left,
    read_cell,
    requote,
)

__all__ = [
    "QUOTES",
    "RESULT_FOLDERS",
    "ROOT",
    "N",
    "Quote",
    "drift",
    "flatten",
    "read_cell",
    "requote",
]


def _human(row: str, *indices: int) -> tuple[Cell, ...]:
    """Cells of a row of ``human.md``: its full report (R@1 0, R@5 1, R@10 2, MRR 3, attr_P@10 4)
    or its summary (the previous generation's numbers, the shipped one's, then the target)."""
    return tuple(Cell("human.md", row, i) for i in indices)


DEMO = "demo.md"
PIXELS = "levers_pixels.md"
PACE = "train_pace.md"
PRECISION = "precision.md"
PACE_AMX = "train_pace_amx.md"
AFTER_V10 = "levers_after_v10.md"
PACE_EPYC = "train_pace_epyc.md"
V11_RUN = "v11_run.md"
V11_V10 = "v11_vs_v10.md"
V11_V9 = "v11_vs_v9.md"
V12_RUN = "v12_run.md"
V12_V10 = "v12_vs_v10.md"
V12_V9 = "v12_vs_v9.md"
PACE_V11B = "train_pace_epyc_v11b.md"
V11B_RUN = "v11b_run.md"
V11B_V10 = "v11b_vs_v10.md"
PACE_V11D = "train_pace_zen5_v11d.md"
V11D_RUN = "v11d_run.md"
V11D_V10 = "v11d_vs_v10.md"
PEOPLE_V11D = "people_words_v11d.md"
PARTIAL = "levers_partial.md"
PEOPLE_PARTIAL = "people_words_partial.md"
PEOPLE_PARTS = "people_words_parts.md"
PEOPLE_COLOUR = "people_words_colour.md"
PEOPLE_V11E = "people_words_v11e.md"
V11E_V10 = "v11e_vs_v10.md"
COLOUR = "levers_colour.md"
SHAPE = "levers_shape.md"  # its "| base |" lines: the final evaluation (0), the pairs (1)
SHAPE_V11E = "levers_shape_v11e.md"
PEOPLE_SHAPE = "people_words_shape.md"
PACE_ZEN4 = "train_pace_zen4_v11f.md"
PACE_ZEN4_V11E = "train_pace_zen4_v11e.md"
PACE_ZEN4_B = "train_pace_zen4_v11f_b.md"
TOWER_WAYS = "text_tower_ways.md"  # per recipe, its ways in order: every row 32, then once 32-256
PROFILE_BEFORE = "step_profile_zen4_v11f_before.md"
PROFILE_AFTER = "step_profile_zen4_v11f.md"
PEOPLE_V9_ARM = "people_words_v9_arm.md"
PEOPLE_WARM = "people_words_warm.md"  # changes against warm_base from index 24, 3 per arm
LEVERS_WARM = "levers_warm.md"
PACE_ZEN4_BOOT = "train_pace_zen4_v11f_boot.md"
PACE_ZEN4_C = "train_pace_zen4_v11f_c.md"
PACE_ZEN3_G = "train_pace_zen3_v11g.md"
PACE_ZEN3_H = "train_pace_zen3_v11h.md"
LEVERS_WARM_SEED1 = "levers_warm_seed1.md"
PEOPLE_WARM_SEED1 = "people_words_warm_seed1.md"  # changes against warm_base_seed1 from 12
LEVERS_WARM_FULL = "levers_warm_full.md"
PEOPLE_WARM_FULL = "people_words_warm_full.md"  # the change against warm_base at index 6
PACE_ZEN5_H = "train_pace_zen5_v11h.md"
V11H_V10 = "v11h_vs_v10.md"
V11H_RUN = "v11h_run.md"
PEOPLE_V11B = "people_words_v11b.md"  # v11b - v9 at 12
PEOPLE_V11H = "people_words_v11h.md"  # v9, v10, v11h from 0, 3, 6; v11h - v9 at 12
UNREADABLE = "people_words_unreadable.md"
DOSE = "levers_v11_dose.md"
DOSE_SEED1 = "levers_v11_dose_seed1.md"
DOSE_WORDS = "people_words_dose.md"
DOSE_WORDS_SEED1 = "people_words_dose_seed1.md"
PACE_XEON = "train_pace_amx_v11d.md"
PACE_EPYC_SLOW = "train_pace_epyc_v11c.md"
AVERAGED = "held_out_query_averaging.md"
SAME_PERSON = "levers_same_person.md"
PACE_XEON_SLOW = "train_pace_amx_v11c_b.md"
TWINS = "levers_twins.md"  # change rows against base: twin_rows (0), _1140 (1), _960 (2)
TWIN_STEP = "step_pair_twins.md"
RENDER_PAIR = "render_pair.md"
TWIN_OBJECTS_SEED1 = "levers_twins_objects_seed1.md"  # change rows: _half_seed1 (0), _twins (1)
TWIN_OBJECTS = "levers_twins_objects.md"  # change rows: object_rows_half (0), with twins (1)
UNREADABLE_BEFORE = "people_words_unreadable_before.md"
CHANGE = "| | change against base |"  # its lines: wide_max, focus_more, object_heavy, base_seed1
CHANGE_SEED1 = "| | change against base_seed1 |"  # object_heavy_seed1
NO_AMX = "clip_no_amx.md"
SEED1 = "levers_pixels_seed1.md"
ARMS_96_64 = ("pixels_96", "base_900")  # levers_pixels_seed1.md's arms at equal minutes
INSTALL = "install.md"
NOT_LIKE = "| caption, not its top wrong hit {} | project |"
V11_LEVERS = "levers_v11.md"  # its change rows: object_rows (line 0), placement (1), both ways (2)
QUOTES: tuple[Quote, ...] = (
    # README: the demo's own queries
    Quote(
        "README.md",
        r"with v10; `bench/results/demo.md`\): caption {N} / {N}, sketch {N} / "
        r"{N}, depth {N} / {N}, segmentation {N} / {N}, caption\+sketch "
        r"{N} / {N}",
        tuple(
            Cell(DEMO, f"{kind} ", i)
            for kind in ("caption", "sketch", "depth", "semseg", "caption+sketch")
            for i in (1, 2)
        ),
    ),
    Quote(
        "README.md",
        r"with the load around it\) and makes (\d+) MB of data",
        (Cell(DEMO, "`du -sh $ANYSEEK_DATA_DIR` afterwards:", 0),),
    ),
    Quote(
        "README.md",
        r"takes {N} s on this 2-core machine",
        (Cell(DEMO, "Wall time:", 0),),
    ),
    # docs/deploy.md: a killed worker's chunk back (the workers' bed run)
    Quote(
        "docs/deploy.md",
        r"by the other worker {N} s after the kill on Redis and {N} s after it on RabbitMQ",
        (
            Cell("deployment_workers.md", "| worker-host-gone | redis |", 15),
            Cell("deployment_workers.md", "| worker-host-gone | rabbitmq |", 15),
        ),
    ),
    # README: how long the test suite takes
    Quote(
        "README.md",
        r"In one process, with nothing else running, the suite took {N} minutes",
        (Cell("test_suite.md", "| wall time, minutes |", 0),),
    ),
    Quote(
        "README.md",
        r"Its last whole run on two workers took {N} minutes on this 2-core machine",
        (Cell("test_suite_parallel.md", "| wall time, minutes |", 0),),
    ),
    # README: a phone's photos (indexing.md's phone section, the built-in model's table)
    Quote(
        "README.md",
        r"a phone's 12-megapixel JPEG decodes at {N} images/s on this 2-core machine against {N} "
        r"decoding every pixel",
        (
            Cell("indexing.md", "| decode only |", 0),
            Cell("indexing.md", "| decode every pixel |", 0),
        ),
    ),
    # README: reliability (the hostile corpus's kinds)
    Quote(
        "README.md",
        r"a hostile corpus of {N} kinds of entries",
        (Cell("reliability.md", "| kinds |", 0),),
    ),
    # README: what setting up costs (install.md)
    Quote(
        "README.md",
        r"is {N} GB, {N} GB of it `nvidia-\*` libraries",
        (
            Cell(INSTALL, "| make test-clip's venv |", 1),
            Cell(INSTALL, "| make test-clip's venv |", 2),
        ),
    ),
    Quote(
        "README.md",
        r"is {N} GB and installs in {N} s here",
        (Cell(INSTALL, "| make install |", 1), Cell(INSTALL, "| make install |", 0)),
    ),
    Quote(
        "README.md",
        r"`\.\[clip,dev\]` \({N} GB; {N} s here",
        (
            Cell(INSTALL, "| make test-clip's venv |", 1),
            Cell(INSTALL, "| make test-clip's venv |", 0),
        ),
    ),
    # README: the status of the built-in model (human.md, builtin_5k.md)
    Quote(
        "README.md",
        r"R@1 / R@10\): sketch {N} / {N}, depth {N} / {N}, segmentation "
        r"{N} / {N}, normals {N} / {N}, caption {N} / {N}, "
        r"caption\+sketch {N} / {N}, caption\+depth {N} / {N}; one-object "
        r"captions \(\"a small red cube\"\) attr_P@10 {N}",
        (
            *_human("| sketch | bind |", 0, 2),
            *_human("| depth | bind |", 0, 2),
            *_human("| semseg | bind |", 0, 2),
            *_human("| normal | bind |", 0, 2),
            *_human("| caption | bind |", 0, 2),
            *_human("| caption+sketch | bind |", 0, 2),
            *_human("| caption+depth | bind |", 0, 2),
            *_human("| object | bind |", 4),
        ),
    ),
    Quote(
        "README.md",
        r"seeds never trained on\): sketch {N} / {N}, painted segmentation {N} / "
        r"{N}, own words {N} / {N} \(a perfect reader of those words reaches R@1 "
        r"{N}",
        (
            *_human("| sketch, default person |", 2, 3),
            *_human("| painted segmentation, default person |", 2, 3),
            *_human("| own-words caption, default person |", 2, 3),
            Cell("caption_ceiling.md", "| default |", 2),
        ),
    ),
    Quote(
        "README.md",
        r"tall pages\): sketch {N} / {N}, painting {N} / {N}\. At 5,000 "
        r"scenes sketches find their scene at R@1 {N} \(`lab/results/builtin_5k\.md`\)",
        (
            *_human("| sketch, held-out person (`scrawl`) |", 2, 3),
            *_human("| painting, held-out person |", 2, 3),
            Cell("builtin_5k.md", "| sketch | bind |", 0),
        ),
    ),
    Quote(
        "README.md", r"the committed model: (\d+) min here", (Cell("training.md", "wall time:", 0),)
    ),
    Quote(
        "README.md",
        r"the training run \((\d+) minutes of training on a rendered set",
        (Cell("training.md", "wall time:", 0),),
    ),
    Quote(
        "lab/log.md",
        r"Its run took (\d+) minutes",
        (Cell("training.md", "wall time:", 0),),
    ),
    Quote(
        "lab/log.md",
        r"in which left-to-right order, expects R@1 {N} on the gallery",
        (Cell("caption_ceiling.md", "| default |", 2),),
    ),
    # docs/search.md: the ordinary client's searches/s: 5065b65, one process, a plain serve
    Quote(
        "docs/search.md",
        r"With the ordinary client, at 2,000 items the earlier revision served {N} searches/s, "
        r"one process of this tree {N} and a plain `anyseek serve` {N}; at 100,000 items {N}, "
        r"{N} and {N}",
        tuple(
            cell
            for size in ("2,000", "100,000")
            for cell in (
                Cell("search.md", f"| {size} | 5065b65 | 1 | ordinary |", 0),
                Cell("search.md", f"| {size} | this tree, --workers 1 | 1 | ordinary |", 0),
                # this size's lines of a plain serve: 2 one-client, 2 stage, lean, ordinary
                Cell("search.md", f"| {size} | this tree, `anyseek serve` |", 1, line=5),
            )
        ),
    ),
    # README and docs/search.md: "not like this" at the page's default weight
    Quote(
        "README.md",
        r"keeps the wanted scene in the top 10 for (\d+)% of caption queries at -0\.75 and drops "
        r"the item from it for (\d+)%",
        (
            Cell("not_like.md", NOT_LIKE.format(-0.75), 1, percent),
            Cell("not_like.md", NOT_LIKE.format(-0.75), 3, percent_left),
        ),
    ),
    Quote(
        "docs/search.md",
        r"keeps the wanted scene in the top 10 for {N}% of queries \(R@1 {N}, {N} "
        r"without the negative\) while the negative leaves the top 10 for {N}%; at -1 those "
        r"are {N}% and {N}%",
        (
            Cell("not_like.md", NOT_LIKE.format(-0.75), 1, percent),
            Cell("not_like.md", NOT_LIKE.format(-0.75), 0),
            Cell("not_like.md", "| caption alone (its top wrong hit, no negative) |", 0),
            Cell("not_like.md", NOT_LIKE.format(-0.75), 3, percent_left),
            Cell("not_like.md", NOT_LIKE.format(-1.0), 1, percent),
            Cell("not_like.md", NOT_LIKE.format(-1.0), 3, percent_left),
        ),
    ),
    # lab/log.md: issue 72's levers, each arm's change against base (levers_v11.md)
    Quote(
        "lab/log.md",
        r"they cost every row \(caption R@1 -{N}, the default person's paintings -{N} R@10, the "
        r"generator's sketches -{N} R@1\) for attr_P@10 \+{N};",
        tuple(Cell(V11_LEVERS, CHANGE, i, line=0) for i in (0, 3, 7, 1)),
    ),
    Quote(
        "lab/log.md",
        r"gave attr_P@10 \+{N} and the default person's sketches and paintings \+{N} / \+{N} "
        r"R@10, for caption R@1 -{N} and a person's own words -{N}\.",
        tuple(Cell(V11_LEVERS, CHANGE, i, line=2) for i in (1, 2, 3, 0, 4)),
    ),
    Quote(
        "lab/log.md",
        r"cost the held-out person too \(sketch R@10 -{N}, painting -{N}\)",
        tuple(Cell(V11_LEVERS, CHANGE, i, line=1) for i in (5, 6)),
    ),
    Quote(
        "lab/log.md",
        r"v10 reads carefully worded captions -{N} R@1 \(an interval that leaves out zero, but "
        r"inside 0\.01\), roughly worded ones level \(-{N} R@1\), and everyday words the "
        r"generator never writes and search's synonym table does not know -{N} R@10\. Those "
        r"everyday words are the gap: v10 finds their scene in the first ten {N} of the time, "
        r"against {N} for rough wording",
        (
            Cell("people_words.md", "| careful | R@1 |", 6),
            Cell("people_words.md", "| rough | R@1 |", 6),
            Cell("people_words.md", "| everyday | R@10 |", 6),
            Cell("people_words.md", "| everyday | R@10 |", 3),
            Cell("people_words.md", "| rough | R@10 |", 3),
        ),
    ),
    Quote(
        "lab/log.md",
        r"projects the shipped recipe's steps at {N} minutes there and {N} from nothing "
        r"\(float32: bfloat16 emulated is {N} times slower\)",
        tuple(Cell("train_pace_avx2.md", "| max_pool |", i) for i in (5, 8, 3)),
    ),
    Quote(
        "lab/log.md",
        r"rendering took\s+{N} s per 1,000 scenes against {N} there\. On it "
        r"`lab/results/train_pace_amx_v11b.md`\s+projects the next run's recipe at {N} minutes "
        r"of steps and {N} from nothing, and the shipped\s+recipe {N} from nothing",
        (
            Cell("train_pace_amx_v11b.md", "| max_pool |", 6),
            Cell(PACE_AMX, "| max_pool |", 6),
            Cell("train_pace_amx_v11b.md", "| max_pool |", 5),
            Cell("train_pace_amx_v11b.md", "| max_pool |", 8),
            Cell("train_pace_amx_b.md", "| max_pool |", 8),
        ),
    ),
    Quote(
        "lab/log.md",
        r"v12's\s+run took {N} min of wall on the EPYC where `train_pace_epyc.md` projects the "
        r"shipped\s+recipe at {N} from nothing",
        (Cell(V12_RUN, "wall time:", 0), Cell(PACE_EPYC, "| max_pool |", 8)),
    ),
    Quote(
        "lab/log.md",
        r"measured\s+\(`lab/results/train_pace_amx_v11c.md`\) a validation at {N} s and the "
        r"run's validations at {N}\s+minutes, the step at {N} s drawn from 80,000 scenes against "
        r"{N} from the 4,000 rendered,\s+and the next run's recipe at {N} minutes of steps and "
        r"{N} from nothing",
        tuple(Cell("train_pace_amx_v11c.md", "| max_pool |", i) for i in (9, 10, 5, 4, 6, 11)),
    ),
    # docs/builtin_model.md: unreadable words left out, the same queries before and after
    Quote(
        "docs/builtin_model.md",
        r"finds v10's scene in the first ten {N} of the time instead of {N}, and first {N}\s+"
        r"instead of {N}, with careful",
        (
            Cell(UNREADABLE, "| everyday | R@10 |", 3),
            Cell(UNREADABLE_BEFORE, "| everyday | R@10 |", 3),
            Cell(UNREADABLE, "| everyday | R@1 |", 3),
            Cell(UNREADABLE_BEFORE, "| everyday | R@1 |", 3),
        ),
    ),
    Quote(
        "lab/log.md",
        r"finds the scene of an everyday caption in the first ten {N} of the time instead of {N},",
        tuple(Cell(f, "| everyday | R@10 |", 3) for f in (UNREADABLE, UNREADABLE_BEFORE)),
    ),
    Quote(
        "lab/log.md",
        r"attr_P@10 \+{N} against base, where the full dose gave \+{N}, and \+{N} on\s+a second",
        (
            Cell(DOSE, CHANGE, 1, line=1),
            Cell(DOSE, CHANGE, 1, line=0),
            Cell(DOSE_SEED1, CHANGE_SEED1, 1),
        ),
    ),
    Quote(
        "lab/log.md",
        r"the full dose cost careful captions -{N}\s+R@1 and everyday words -{N} R@10, as v11b's "
        r"full run paid against v9, while the half dose\s+cost -{N} and -{N}, both inside their "
        r"intervals; on the second seed\s+\(`people_words_dose_seed1.md`\) the half dose is "
        r"\+{N} and \+{N}\.",
        tuple(
            Cell(file, row, i)
            for file, i in ((DOSE_WORDS, 9), (DOSE_WORDS, 12), (DOSE_WORDS_SEED1, 6))
            for row in ("| careful | R@1 |", "| everyday | R@10 |")
        ),
    ),
    Quote(
        "lab/log.md",
        r"generator's captions about 0\.02 R@1 in arms this short \(-{N}, and -{N} on the second",
        (Cell(DOSE, CHANGE, 0, line=1), Cell(DOSE_SEED1, CHANGE_SEED1, 0)),
    ),
    Quote(
        "lab/log.md",
        r"where `lab/train_pace.py` projected the v11b recipe at {N} minutes from",
        (Cell(PACE_XEON, "| max_pool |", 11),),
    ),
    # lab/log.md: no v11c run on a slower EPYC; drawn queries averaged over moved copies
    Quote(
        "lab/log.md",
        r"projected the v11c recipe at {N} minutes from nothing on this 2-core AMD EPYC with "
        r"AVX-512 BF16 \(v11b's EPYC: {N},",
        (Cell(PACE_EPYC_SLOW, "| max_pool |", 11), Cell(PACE_V11B, "| max_pool |", 11)),
    ),
    Quote(
        "lab/log.md",
        r"lower its sketches from {N} to {N} R@10 and bent copies to {N}, and its paintings stay "
        r"at or below {N};.*?it finds its scene in the first ten {N} of the time where the "
        r"sketch does {N}\.",
        (
            Cell(AVERAGED, "| as drawn |", 0),
            Cell(AVERAGED, "| objects moved 0.05 |", 0),
            Cell(AVERAGED, "| bent 0.05 |", 0),
            *(Cell(AVERAGED, "| as drawn |", i) for i in (1, 1, 0)),
        ),
    ),
    Quote(
        "lab/log.md",
        r"moved the held-out person's sketches -{N} and paintings -{N} R@10 against base, and "
        r"captions -{N} R@1",
        tuple(Cell(SAME_PERSON, CHANGE, i) for i in (5, 6, 0)),
    ),
    Quote(
        "lab/log.md",
        r"attr_P@10 \+{N} against base where the object rows alone at 800 steps\s+give \+{N}, "
        r"with caption R@1 \+{N} where they give -{N}, and the held-out person's sketches\s+"
        r"-{N} and paintings \+{N}\.",
        (
            Cell(TWIN_OBJECTS, CHANGE, 1, line=1),
            Cell(TWIN_OBJECTS, CHANGE, 1),
            Cell(TWIN_OBJECTS, CHANGE, 0, line=1),
            Cell(TWIN_OBJECTS, CHANGE, 0),
            Cell(TWIN_OBJECTS, CHANGE, 5, line=1),
            Cell(TWIN_OBJECTS, CHANGE, 6, line=1),
        ),
    ),
    Quote(
        "lab/log.md",
        r"This 2-core AMX Xeon projects the v11c recipe at {N} minutes\s+from nothing",
        (Cell(PACE_XEON_SLOW, "| max_pool |", 11),),
    ),
    Quote(
        "lab/log.md",
        r"moves attr_P@10 \+{N} \(the object rows alone: \+{N}\), caption R@1 \+{N} \(alone "
        r"\+{N}\), the default person's sketches \+{N} and paintings \+{N}, the held-out "
        r"person's sketches \+{N} and paintings \+{N}, and its lowest pair of pixel modalities is "
        r"{N} against base's {N} \(alone {N}\)\. On seed 0 it gave \+{N}, \+{N} and held-out "
        r"-{N} and \+{N}\.",
        (
            Cell(TWIN_OBJECTS_SEED1, CHANGE_SEED1, 1, line=1),
            Cell(TWIN_OBJECTS_SEED1, CHANGE_SEED1, 1, line=0),
            Cell(TWIN_OBJECTS_SEED1, CHANGE_SEED1, 0, line=1),
            Cell(TWIN_OBJECTS_SEED1, CHANGE_SEED1, 0, line=0),
            Cell(TWIN_OBJECTS_SEED1, CHANGE_SEED1, 2, line=1),
            Cell(TWIN_OBJECTS_SEED1, CHANGE_SEED1, 3, line=1),
            Cell(TWIN_OBJECTS_SEED1, CHANGE_SEED1, 5, line=1),
            Cell(TWIN_OBJECTS_SEED1, CHANGE_SEED1, 6, line=1),
            Cell(TWIN_OBJECTS_SEED1, "| object_rows_half_twins_seed1 |", 0, line=1),
            Cell(TWIN_OBJECTS_SEED1, "| base_seed1 |", 0, line=1),
            Cell(TWIN_OBJECTS_SEED1, "| object_rows_half_seed1 |", 0, line=1),
            Cell(TWIN_OBJECTS, CHANGE, 1, line=1),
            Cell(TWIN_OBJECTS, CHANGE, 0, line=1),
            Cell(TWIN_OBJECTS, CHANGE, 5, line=1),
            Cell(TWIN_OBJECTS, CHANGE, 6, line=1),
        ),
    ),
    Quote(
        "lab/log.md",
        r"Rendering a training set in {N} of its time.*?{N} s per 1,000 scenes before, {N} after, "
        r"a median ratio of {N},",
        (
            Cell(RENDER_PAIR, "After / before, median of the turns:", 0),
            Cell(RENDER_PAIR, "| before |", -1),
            Cell(RENDER_PAIR, "| after |", -1),
            Cell(RENDER_PAIR, "After / before, median of the turns:", 0),
        ),
    ),
    Quote(
        "lab/log.md",
        r"a twin step costs {N} of a plain one\..*?attr_P@10 -{N} and the held-out person's "
        r"paintings -{N} R@10",
        (
            Cell(TWIN_STEP, "Median of the per-turn ratios,", 0),
            Cell(TWINS, CHANGE, 1),
            Cell(TWINS, CHANGE, 6),
        ),
    ),
    Quote(
        "lab/log.md",
        r"caption R@1 \+{N} and \+{N}, the lowest pair of pixel\s+modalities {N} and {N} R@1 "
        r"against base's {N} and {N}; but attr_P@10 falls -{N} and\s+-{N}, and the held-out "
        r"paintings move -{N} and \+{N}\. At 960 steps, 1\.2 times base's,\s+binding falls "
        r"-{N} and the held-out paintings -{N}\.",
        (
            Cell(TWINS, CHANGE, 0, line=1),
            Cell(TWINS, CHANGE_SEED1, 0),
            Cell(TWINS, "| twin_rows_1140 |", 0, line=1),
            Cell(TWINS, "| twin_rows_1140_seed1 |", 0, line=1),
            Cell(TWINS, "| base |", 0, line=1),
            Cell(TWINS, "| base_seed1 |", 0, line=1),
            Cell(TWINS, CHANGE, 1, line=1),
            Cell(TWINS, CHANGE_SEED1, 1),
            Cell(TWINS, CHANGE, 6, line=1),
            Cell(TWINS, CHANGE_SEED1, 6),
            Cell(TWINS, CHANGE, 1, line=2),
            Cell(TWINS, CHANGE, 6, line=2),
        ),
    ),
    # docs/builtin_model.md: the first run projected with validation and rendering counted
    Quote(
        "docs/builtin_model.md",
        r"`lab/results/train_pace_epyc_v11b.md` said {N} minutes\s+from nothing and the run "
        r"took {N}",
        (Cell(PACE_V11B, "| max_pool |", 11), Cell(V11B_RUN, "wall time:", 0)),
    ),
    Quote(
        "docs/builtin_model.md",
        r"`lab/results/train_pace_zen5_v11d.md` said {N} minutes from nothing and the run took "
        r"{N}",
        (Cell(PACE_V11D, "| max_pool |", 11), Cell(V11D_RUN, "wall time:", 0)),
    ),
    # lab/log.md: v11d's full run, its pace check, and how it compares (v11d_*.md)
    Quote(
        "lab/log.md",
        r"`lab/results/train_pace_zen5_v11d.md`\s+projected `lab/recipes/v11d-draft.json` at {N} "
        r"minutes of steps and {N} from nothing, and the\s+run, with the machine to itself, took "
        r"{N} minutes of wall from nothing\s+\(`lab/results/v11d_run.md`, one call, load median "
        r"{N}\)",
        (
            *(Cell(PACE_V11D, "| max_pool |", i) for i in (6, 11)),
            Cell(V11D_RUN, "wall time:", 0),
            Cell(V11D_RUN, "Load average", 1),
        ),
    ),
    Quote(
        "lab/log.md",
        r"attr_P@10 {N} -> {N}, short of the 0.7.*?sketches {N} -> {N} and paintings {N} -> {N} "
        r"R@10.*?paintings -{N}\s+R@1, the held-out person's captions -{N} R@1 and a sketch "
        r"gallery asked by a segmentation\s+-{N} R@1",
        (
            *(Cell(V11D_V10, "| object (bind) | attr_P@10 |", i) for i in (0, 1)),
            *(Cell(V11D_V10, "| sketch (scrawl, held out) (bind) | R@10 |", i) for i in (0, 1)),
            *(Cell(V11D_V10, "| semseg (scrawl, held out) (bind) | R@10 |", i) for i in (0, 1)),
            Cell(V11D_V10, "| semseg (default) (bind) | R@1 |", 2),
            Cell(V11D_V10, "| caption (scrawl, held out) (bind) | R@1 |", 2),
            Cell(V11D_V10, "| semseg -> sketch | R@1 |", 2),
        ),
    ),
    Quote(
        "lab/log.md",
        r"against v9, careful captions -{N} and rough ones -{N} R@1, both\s+outside their "
        r"intervals, and everyday words -{N} R@10, where v10 is -{N}",
        (
            Cell(PEOPLE_V11D, "| careful | R@1 |", 12),
            Cell(PEOPLE_V11D, "| rough | R@1 |", 12),
            Cell(PEOPLE_V11D, "| everyday | R@10 |", 12),
            Cell(PEOPLE_V11D, "| everyday | R@10 |", 9),
        ),
    ),
    Quote(
        "lab/log.md",
        r"it costs the generator's captions {N} -> {N} R@1 and keeps binding\s+\({N} both\).*?"
        r"everyday words\s+included \(R@10 \+{N} against base where the arm without it gives "
        r"\+{N}\).*?`object_rows_half_twins`\s+gains on base in every wording \(careful \+{N} "
        r"R@1, everyday \+{N} R@10\), while at full\s+length v11d is below v10 \(careful {N} -> "
        r"{N} R@1, everyday {N} -> {N} R@10\)",
        (
            Cell(PARTIAL, "| object_rows_half_twins |", -8),
            Cell(PARTIAL, "| object_rows_half_twins_partial |", -8),
            Cell(PARTIAL, "| object_rows_half_twins_partial |", -7),
            Cell(PEOPLE_PARTIAL, "| everyday | R@10 |", 12),
            Cell(PEOPLE_PARTIAL, "| everyday | R@10 |", 9),
            Cell(PEOPLE_PARTIAL, "| careful | R@1 |", 9),
            Cell(PEOPLE_PARTIAL, "| everyday | R@10 |", 9),
            Cell(PEOPLE_V11D, "| careful | R@1 |", 3),
            Cell(PEOPLE_V11D, "| careful | R@1 |", 6),
            Cell(PEOPLE_V11D, "| everyday | R@10 |", 3),
            Cell(PEOPLE_V11D, "| everyday | R@10 |", 6),
        ),
    ),
    Quote(
        "lab/log.md",
        r"its colours alone less often \(R@1 {N} -> {N}\) and from its shapes alone more often\s+"
        r"\(R@10 {N} -> {N}\), everyday words falling as before \(R@10 {N} -> {N}\).*?v9's "
        r"caption -> depth R@1 {N}, v11d's {N}",
        (
            *(Cell(PEOPLE_PARTS, "| colours | R@1 |", i) for i in (0, 3)),
            *(Cell(PEOPLE_PARTS, "| shapes | R@10 |", i) for i in (0, 3)),
            *(Cell(PEOPLE_PARTS, "| everyday | R@10 |", i) for i in (0, 3)),
            *(Cell("v11d_vs_v9.md", "| caption -> depth | R@1 |", i) for i in (0, 1)),
        ),
    ),
    Quote(
        "lab/log.md",
        r"lifts everyday words \+{N} R@10 and a\s+caption's colours alone \+{N} R@1 against "
        r"base, but people's paintings fall -{N} R@10\s+\(the held-out person's -{N}\) and "
        r"binding -{N} attr_P@10.*?\(everyday\s+\+{N} R@10, colours \+{N} R@1\) at half the "
        r"cost \(paintings -{N} R@10, binding -{N}\).*?`lab/results/train_pace_zen5_v11e.md` "
        r"projected {N} minutes from nothing",
        (
            Cell(PEOPLE_COLOUR, "| everyday | R@10 |", 9),
            Cell(PEOPLE_COLOUR, "| colours | R@1 |", 9),
            *(Cell(COLOUR, CHANGE, i) for i in (3, 6, 1)),
            Cell(PEOPLE_COLOUR, "| everyday | R@10 |", 12),
            Cell(PEOPLE_COLOUR, "| colours | R@1 |", 12),
            *(Cell(COLOUR, CHANGE, i, line=1) for i in (3, 1)),
            Cell("train_pace_zen5_v11e.md", "| max_pool |", 11),
        ),
    ),
    Quote(
        "lab/log.md",
        r"ran from nothing in {N} minutes of wall, its pace check having\s+said {N} "
        r"\(`lab/results/v11e_run.md`, one call, load median {N}\).*?everyday words are -{N} "
        r"R@10, inside their\s+interval \(v10 on the same galleries: -{N}\), though still -{N} "
        r"at R@1 \(v10: -{N}\), and\s+a caption's colours alone -{N} R@1 where v10 is -{N}.*?"
        r"attr_P@10 {N} -> {N} against v10.*?"
        r"\(R@1 -{N} and -{N}, outside their intervals, as v11d's -{N} and -{N} were.*?"
        r"\(generator captions -{N} R@1, the default person's "
        r"words -{N}\).*?\(caption -> depth -{N}, depth -> caption -{N} R@1\).*?\(R@10 {N}\s+"
        r"and {N}\)",
        (
            Cell("v11e_run.md", "wall time:", 0),
            Cell("train_pace_zen5_v11e.md", "| max_pool |", 11),
            Cell("v11e_run.md", "Load average", 1),
            Cell(PEOPLE_V11E, "| everyday | R@10 |", 12),
            Cell(PEOPLE_V11E, "| everyday | R@10 |", 9),
            Cell(PEOPLE_V11E, "| everyday | R@1 |", 12),
            Cell(PEOPLE_V11E, "| everyday | R@1 |", 9),
            Cell(PEOPLE_V11E, "| colours | R@1 |", 12),
            Cell(PEOPLE_V11E, "| colours | R@1 |", 9),
            *(Cell(V11E_V10, "| object (bind) | attr_P@10 |", i) for i in (0, 1)),
            Cell(PEOPLE_V11E, "| careful | R@1 |", 12),
            Cell(PEOPLE_V11E, "| rough | R@1 |", 12),
            Cell(PEOPLE_V11D, "| careful | R@1 |", 12),
            Cell(PEOPLE_V11D, "| rough | R@1 |", 12),
            Cell(V11E_V10, "| caption (bind) | R@1 |", 2),
            Cell(V11E_V10, "| caption (default) (bind) | R@1 |", 2),
            Cell(V11E_V10, "| caption -> depth | R@1 |", 2),
            Cell(V11E_V10, "| depth -> caption | R@1 |", 2),
            Cell(V11E_V10, "| sketch (scrawl, held out) (bind) | R@10 |", 1),
            Cell(V11E_V10, "| semseg (scrawl, held out) (bind) | R@10 |", 1),
        ),
    ),
    Quote(
        "lab/log.md",
        r"base's 800-step arm trained {N} minutes here, where it took {N} on\s+the Zen 5.*?"
        r"careful captions -{N} R@1 with it on\s+every caption row \(inside the interval\) and "
        r"-{N} on half.*?v11e's recipe {N} -> {N}, with the default person's words {N} -> {N} "
        r"R@1.*?caption -> depth R@1 {N} for base,\s+where v11d's full run reached {N}\) and a "
        r"caption's shapes alone find their scene at R@1\s+{N}.*?projects {N} minutes from "
        r"nothing here at {N} s a step",
        (
            Cell(SHAPE, "| base |", 0),
            Cell(COLOUR, "| base |", 0),
            Cell(PEOPLE_SHAPE, "| careful | R@1 |", 15),
            Cell(PEOPLE_SHAPE, "| careful | R@1 |", 18),
            Cell(PEOPLE_SHAPE, "| careful | R@1 |", 9),
            Cell(PEOPLE_SHAPE, "| careful | R@1 |", 12),
            Cell(SHAPE_V11E, "| colour_half_twins |", 5),
            Cell(SHAPE_V11E, "| colour_half_twins_shapes |", 5),
            Cell(SHAPE, "| base |", 6, line=1),
            Cell("v11d_vs_v9.md", "| caption -> depth | R@1 |", 1),
            Cell(PEOPLE_SHAPE, "| shapes | R@1 |", 0),
            Cell(PACE_ZEN4, "| max_pool |", 11),
            Cell(PACE_ZEN4, "| max_pool |", 5),
        ),
    ),
    Quote(
        "lab/log.md",
        r"alone it took {N} s of a {N} s step.*?{N} of {N} are distinct for v11e's recipe and\s+"
        r"{N} of {N} for v11f's.*?rendered at\s+{N} and {N} s per 1,000.*?brought a step to {N} "
        r"of before for v11e's recipe and {N} for v11f's, and groups of 128\s+rows instead of 32 "
        r"to {N} and {N}\..*?the step profile is {N} s with the text tower alone {N}.*?projects "
        r"v11e's recipe at {N}\s+minutes from nothing.*?and v11f's at {N} at {N} s a\s+step.*?"
        r"{N} before\)",
        (
            Cell(PROFILE_BEFORE, "| forward + backward: text tower |", 0),
            Cell(PROFILE_BEFORE, "Batch of 256", 0),
            *(Cell(TOWER_WAYS, f"| {r}-draft |", i) for r in ("v11e", "v11f") for i in (1, 0)),
            Cell(PACE_ZEN4_V11E, "| max_pool |", 7),
            Cell(PACE_ZEN4_B, "| max_pool |", 7),
            *(
                Cell(TOWER_WAYS, f"| {r}-draft |", 6, line=k)
                for k in (1, 3)
                for r in ("v11e", "v11f")
            ),
            Cell(PROFILE_AFTER, "Batch of 256", 0),
            Cell(PROFILE_AFTER, "| forward + backward: text tower |", 0),
            Cell(PACE_ZEN4_V11E, "| max_pool |", 11),
            Cell(PACE_ZEN4_B, "| max_pool |", 11),
            Cell(PACE_ZEN4_B, "| max_pool |", 5),
            Cell(PACE_ZEN4, "| max_pool |", 11),
        ),
    ),
    Quote(
        "lab/log.md",
        r"v9's recipe is below base by {N} R@1 on careful\s+captions and {N} on rough ones.*?"
        r"v11e's training is above\s+base by {N}\. At full length v10 and v9 are level \(\+{N} "
        r"and \+{N} R@1,.*?v11e is below v9 \(-{N} and -{N}\)\. At 800 steps\s+careful "
        r"captions find their scene at R@1 {N}, against {N} for v9",
        (
            Cell(PEOPLE_V9_ARM, "| careful | R@1 |", 9),
            Cell(PEOPLE_V9_ARM, "| rough | R@1 |", 9),
            Cell(PEOPLE_V9_ARM, "| careful | R@1 |", 12),
            Cell(PEOPLE_V11E, "| careful | R@1 |", 9),
            Cell(PEOPLE_V11E, "| rough | R@1 |", 9),
            Cell(PEOPLE_V11E, "| careful | R@1 |", 12),
            Cell(PEOPLE_V11E, "| rough | R@1 |", 12),
            Cell(PEOPLE_V9_ARM, "| careful | R@1 |", 0),
            Cell(PEOPLE_V11E, "| careful | R@1 |", 0),
        ),
    ),
    Quote(
        "lab/log.md",
        r"v11f's recipe at {N} minutes from nothing five minutes after this machine started.*?and "
        r"{N} half an hour later at {N} s a step",
        (
            Cell(PACE_ZEN4_BOOT, "| max_pool |", 11),
            Cell(PACE_ZEN4_C, "| max_pool |", 11),
            Cell(PACE_ZEN4_C, "| max_pool |", 5),
        ),
    ),
    Quote(
        "lab/log.md",
        r"\(v10 is {N} R@1 above\s+`warm_base` on careful captions and {N} on rough ones\).*?"
        r"v11e's training is below by {N} R@1 on careful captions and {N} on\s+rough ones.*?put "
        r"it {N} above.*?below v9 by {N} and {N} where v10\s+is level.*?v9's recipe warm is "
        r"within {N} of `warm_base`.*?colours alone {N} R@1 better than v10, its warm arm -{N}",
        (
            Cell(PEOPLE_WARM, "| careful | R@1 |", 42),
            Cell(PEOPLE_WARM, "| rough | R@1 |", 42),
            Cell(PEOPLE_WARM, "| careful | R@1 |", 27),
            Cell(PEOPLE_WARM, "| rough | R@1 |", 27),
            Cell(PEOPLE_V9_ARM, "| careful | R@1 |", 12),
            Cell(PEOPLE_V11E, "| careful | R@1 |", 12),
            Cell(PEOPLE_V11E, "| rough | R@1 |", 12),
            Cell(PEOPLE_WARM, "| careful | R@1 |", 24),
            Cell(PEOPLE_V11E, "| colours | R@1 |", 9),
            Cell(PEOPLE_WARM, "| colours | R@1 |", 24),
        ),
    ),
    Quote(
        "lab/log.md",
        r"shape pairs \(careful -{N}\).*?`p_object_caption` 0: careful -{N}\).*?do: careful "
        r"-{N}\s+and rough \+{N} R@1.*?binding \+{N} attr_P@10 against\s+`warm_base` where both "
        r"ways gave \+{N}; rough R@10 stays -{N}.*?\(careful\s+-{N} against v9",
        (
            Cell(PEOPLE_WARM, "| careful | R@1 |", 30),
            Cell(PEOPLE_WARM, "| careful | R@1 |", 33),
            Cell(PEOPLE_WARM, "| careful | R@1 |", 39),
            Cell(PEOPLE_WARM, "| rough | R@1 |", 39),
            Cell(LEVERS_WARM, "| | change against warm_base |", 1, line=5),
            Cell(LEVERS_WARM, "| | change against warm_base |", 1, line=1),
            Cell(PEOPLE_WARM, "| rough | R@10 |", 39),
            Cell(PEOPLE_V11B, "| careful | R@1 |", 12),
        ),
    ),
    Quote(
        "lab/log.md",
        r"v11g's recipe at {N} minutes from nothing at {N} s a step.*?careful captions -{N} and "
        r"rough ones -{N} R@1.*?binding \+{N} attr_P@10.*?rough R@10 -{N},.*?careful and rough "
        r"captions the same \(-{N} and -{N} R@1\), rough R@10 -{N}.*?little more \(\+{N}\).*?"
        r"gives careful -{N}, rough -{N} and rough R@10 -{N},.*?binding \+{N}:.*?"
        r"attr_P@10 {N}, where v11d and v11e.*?reached {N} and {N}.*?Its step costs more: {N} s "
        r"here,\s+{N} minutes from nothing",
        (
            Cell(PACE_ZEN3_G, "| max_pool |", 11),
            Cell(PACE_ZEN3_G, "| max_pool |", 5),
            Cell(PEOPLE_WARM_SEED1, "| careful | R@1 |", 12),
            Cell(PEOPLE_WARM_SEED1, "| rough | R@1 |", 12),
            Cell(LEVERS_WARM_SEED1, "| | change against warm_base_seed1 |", 1),
            Cell(PEOPLE_WARM_SEED1, "| rough | R@10 |", 12),
            Cell(PEOPLE_WARM_SEED1, "| careful | R@1 |", 15),
            Cell(PEOPLE_WARM_SEED1, "| rough | R@1 |", 15),
            Cell(PEOPLE_WARM_SEED1, "| rough | R@10 |", 15),
            Cell(LEVERS_WARM_SEED1, "| | change against warm_base_seed1 |", 1, line=1),
            Cell(PEOPLE_WARM_FULL, "| careful | R@1 |", 6),
            Cell(PEOPLE_WARM_FULL, "| rough | R@1 |", 6),
            Cell(PEOPLE_WARM_FULL, "| rough | R@10 |", 6),
            Cell(LEVERS_WARM_FULL, "| | change against warm_base |", 1),
            Cell(V11B_V10, "| object (bind) | attr_P@10 |", 1),
            Cell(V11D_V10, "| object (bind) | attr_P@10 |", 1),
            Cell(V11E_V10, "| object (bind) | attr_P@10 |", 1),
            Cell(PACE_ZEN3_H, "| max_pool |", 5),
            Cell(PACE_ZEN3_H, "| max_pool |", 11),
        ),
    ),
    Quote(
        "lab/log.md",
        r"projected v11h-draft at {N}\s+minutes from nothing at {N} s a step.*?the run took {N} "
        r"minutes of wall\s+\(`lab/results/v11h_run.md`, one call, load median {N}\).*?"
        r"attr_P@10 {N} -> {N} against v10.*?\(R@1 -{N} and -{N}, outside their\s+intervals\), "
        r"as v11b's careful ones did \(-{N}\).*?\s+{N} numbers of the any-to-any table fall.*?"
        r"\(caption -> depth -{N}, caption -> semseg -{N}, sketch -> caption -{N}\s+R@1\), "
        r"where v11e's fell -{N} and -{N}.*?in the first ten {N} of the time\s+\(v9 {N}, v10 "
        r"{N}, v11e {N}\).*?\(R@1 {N}\s+against {N}; v11e {N}\).*?its shapes R@10 moved -{N}"
        r".*?\(sketch R@10 {N}, painting {N}\).*?between {N} and\s+{N} attr_P@10.*?rebuilds it"
        r"\s+in {N} minutes here",
        (
            Cell(PACE_ZEN5_H, "| max_pool |", 11),
            Cell(PACE_ZEN5_H, "| max_pool |", 5),
            Cell(V11H_RUN, "wall time:", 0),
            Cell(V11H_RUN, "Load average", 1),
            *(Cell(V11H_V10, "| object (bind) | attr_P@10 |", i) for i in (0, 1)),
            Cell(PEOPLE_V11H, "| careful | R@1 |", 12),
            Cell(PEOPLE_V11H, "| rough | R@1 |", 12),
            Cell(PEOPLE_V11B, "| careful | R@1 |", 12),
            Cell(V11H_V10, "0 numbers gain more than 0.01,", 0),  # the any-to-any table's
            Cell(V11H_V10, "| caption -> depth | R@1 |", 2),
            Cell(V11H_V10, "| caption -> semseg | R@1 |", 2),
            Cell(V11H_V10, "| sketch -> caption | R@1 |", 2),
            Cell(V11E_V10, "| caption -> depth | R@1 |", 2),
            Cell(V11E_V10, "| caption -> semseg | R@1 |", 2),
            *(Cell(PEOPLE_V11H, "| shapes | R@10 |", i) for i in (6, 0, 3)),
            Cell(PEOPLE_V11E, "| shapes | R@10 |", 6),
            *(Cell(PEOPLE_V11H, "| colours | R@1 |", i) for i in (6, 3)),
            Cell(PEOPLE_V11E, "| colours | R@1 |", 6),
            Cell(PEOPLE_WARM_FULL, "| shapes | R@10 |", 6),
            Cell(V11H_V10, "| sketch (scrawl, held out) (bind) | R@10 |", 1),
            Cell(V11H_V10, "| semseg (scrawl, held out) (bind) | R@10 |", 1),
            Cell(V11E_V10, "| object (bind) | attr_P@10 |", 1),
            Cell(V11H_V10, "| object (bind) | attr_P@10 |", 1),
            Cell(V11H_RUN, "wall time:", 0),
        ),
    ),
    # lab/log.md: v11b's full run, its pace check, and how it compares (v11b_*.md)
    Quote(
        "lab/log.md",
        r"`lab/results/train_pace_epyc_v11b.md` projected the recipe at {N} minutes of steps and "
        r"{N} from\s+nothing, and the run, with the machine to itself, took {N} minutes of wall",
        (*(Cell(PACE_V11B, "| max_pool |", i) for i in (6, 11)), Cell(V11B_RUN, "wall time:", 0)),
    ),
    Quote(
        "lab/log.md",
        r"one-object target with room, attr_P@10 {N} -> {N} against v10.*?two pairs of the "
        r"any-to-any table fall {N} "
        r"\(sketch ->\s+segmentation R@1, caption -> sketch R@10\).*?sketches {N} and paintings "
        r"{N} R@10",
        (
            *(Cell(V11B_V10, "| object (bind) | attr_P@10 |", i) for i in (0, 1)),
            Cell(V11B_V10, "| sketch -> semseg | R@1 |", 2),
            Cell(V11B_V10, "| sketch (scrawl, held out) (bind) | R@10 |", 1),
            Cell(V11B_V10, "| semseg (scrawl, held out) (bind) | R@10 |", 1),
        ),
    ),
    Quote(
        "lab/log.md",
        r"against v9, careful captions -{N} R@1 and everyday words -{N} R@10, both outside their\s+"
        r"intervals, where v10 was -{N} on everyday words",
        (
            Cell(PEOPLE_V11B, "| careful | R@1 |", 12),
            Cell(PEOPLE_V11B, "| everyday | R@10 |", 12),
            Cell(PEOPLE_V11B, "| everyday | R@10 |", 9),
        ),
    ),
    # docs/builtin_model.md: pixels_96 on a second seed (levers_pixels_seed1.md's first change
    # row), then at equal minutes (the final rows, the pairs table's second lines), then the
    # machine's costs (train_pace.md)
    Quote(
        "lab/log.md",
        r"step for step: captions \+{N} R@1, one-object attr_P@10 \+{N}, the held-out person's "
        r"sketches and paintings \+{N} / \+{N} R@10, so the step-for-step gain is not chance",
        tuple(Cell(SEED1, "| | change against base_seed1 |", i) for i in (0, 1, 5, 6)),
    ),
    Quote(
        "lab/log.md",
        r"given the same training minutes \(`base_900`: 900 steps, {N} minutes against {N}",
        (Cell(SEED1, "| base_900_seed1 |", 0), Cell(SEED1, "| pixels_96_seed1 |", 0)),
    ),
    Quote(
        "lab/log.md",
        r"one-object attr_P@10 {N} against {N} and the held-out person's paintings {N} against "
        r"{N} R@10, its sketches level \({N} against {N}\); what it keeps is on the generator's "
        r"drawings \(sketch R@1 {N} against {N}, the weakest pair without the image {N} against "
        r"{N}\)",
        (
            *(Cell(SEED1, f"| {arm}_seed1 |", i) for i in (2, 7, 6, 8) for arm in ARMS_96_64),
            Cell(SEED1, "| pixels_96_seed1 |", 0, line=1),
            Cell(SEED1, "| base_900_seed1 |", 0, line=1),
        ),
    ),
    Quote(
        "lab/log.md",
        r"the shipped recipe at 96 pixels would train its steps in {N} minutes and render its "
        r"scenes in {N} more, holding {N} GB of them in memory, where the 64-pixel recipe needs "
        r"{N} and {N} minutes",
        (
            Cell(PACE, "| max_pool_96 |", 4),
            Cell(PACE, "| max_pool_96 |", 6),
            Cell(PACE, "| max_pool_96 |", 7),
            Cell(PACE, "| max_pool |", 4),
            Cell(PACE, "| max_pool |", 6),
        ),
    ),
    # docs/models.md: open_clip's gallery precision on a CPU without AMX (clip_no_amx.md)
    Quote(
        "docs/models.md",
        r"a bf16 matmul ran at {N} GFLOP/s against {N} in float32, and the bf16 copy embedded "
        r"{N} images/s against {N} in float32",
        (
            Cell(NO_AMX, "- matmul peak measured here", 4),
            Cell(NO_AMX, "- matmul peak measured here", 3),
            Cell(NO_AMX, "| ViT-B-32 | anyseek bf16", 0),
            Cell(NO_AMX, "| ViT-B-32 | anyseek float32 |", 0),
        ),
    ),
    # docs/models.md: bfloat16 against float32 gallery vectors per family (precision.md: the
    # largest difference of a component, then the smallest cosine)
    Quote(
        "docs/models.md",
        r"the built-in model {N} and {N}; official 4M's conformance fixture {N} and {N} in its "
        r"dinov2 space \(a tokenized space: a token flipped by rounding moves the vector\) and "
        r"{N} and {N} in its imagebind space; MultiMAE's conformance "
        r"fixture {N} and {N}; open_clip ViT-B-32 with random weights {N} and {N}\.",
        tuple(
            Cell(PRECISION, row, index)
            for row in (
                "| builtin | bind |",
                "| official 4M (fixture) | dinov2 |",
                "| official 4M (fixture) | imagebind |",
                "| MultiMAE (fixture) | multimae |",
                "| open_clip ViT-B-32 (random weights) | clip |",
            )
            for index in (0, 1)
        ),
    ),
    # docs/builtin_model.md: the precision trial (train_pace.md: bf16 / float32 at 64 pixels)
    Quote(
        "docs/builtin_model.md",
        r"a step of the shipped recipe took {N} times as long in bfloat16 as in float32",
        (Cell(PACE, "| max_pool |", 3),),
    ),
    # docs/builtin_model.md: the same on an AMX Xeon (train_pace_amx.md: bf16 / float32, a run's
    # projected minutes, rendering, from nothing, and the fused attention's step against the
    # trial's)
    Quote(
        "docs/builtin_model.md",
        r"a step took {N} times as long as in float32\). A run's step is slower than the trial's: "
        r"batches differ in the rows each modality takes, and the mean over fresh batches, batch "
        r"making included, projects the shipped recipe's 8,000 steps to {N} minutes besides {N} "
        r"minutes of rendering, {N} from nothing",
        tuple(Cell(PACE_AMX, "| max_pool |", i) for i in (3, 5, 7, 8)),
    ),
    Quote(
        "docs/builtin_model.md",
        r"through torch's fused CPU kernel the same step took {N} times as long there",
        (Cell(PACE_AMX, "| max_pool |", 11),),
    ),
    # docs/builtin_model.md: v11's full run, its pace and its comparisons (compare_models.py rows:
    # the old model's number, the new one's, the change)
    Quote(
        "lab/log.md",
        r"trained from nothing in {N} minutes on a 2-core AMD EPYC with AVX-512 BF16 and no AMX,\s+"
        r"where `lab/train_pace.py` had projected {N}",
        (Cell(V11_RUN, "wall time:", 0), Cell(PACE_EPYC, "| max_pool |", 8)),
    ),
    Quote(
        "lab/log.md",
        r"attr_P@10 {N} -> {N} against v10\. It pays on the caption rows: against v10 the "
        r"default\s+person's caption \+ sketch -{N} R@1 and the held-out person's own words "
        r"-{N} R@1, and\s+against v9 the generator's captions -{N}, the held-out person's own "
        r"words -{N} and caption\s+\+ sketch -{N} R@1",
        (
            *old_and_new(V11_V10, "| object (bind) | attr_P@10 |"),
            change(V11_V10, "| caption+sketch (default) (bind) | R@1 |"),
            change(V11_V10, "| caption (scrawl, held out) (bind) | R@1 |"),
            change(V11_V9, "| caption (bind) | R@1 |"),
            change(V11_V9, "| caption (scrawl, held out) (bind) | R@1 |"),
            change(V11_V9, "| caption+sketch (scrawl, held out) (bind) | R@1 |"),
        ),
    ),
    Quote(
        "lab/log.md",
        r"\(caption -> depth {N} -> {N} R@1\)\. The held-out person stays short: sketches {N}\s+"
        r"and paintings {N} R@10",
        (
            *old_and_new(V11_V10, "| caption -> depth | R@1 |"),
            Cell(V11_V10, "| sketch (scrawl, held out) (bind) | R@10 |", 1),
            Cell(V11_V10, "| semseg (scrawl, held out) (bind) | R@10 |", 1),
        ),
    ),
    # docs/builtin_model.md: v12's full run and its comparisons
    Quote(
        "lab/log.md",
        r"18\) took {N} minutes from nothing on the same kind of EPYC",
        (Cell(V12_RUN, "wall time:", 0),),
    ),
    Quote(
        "lab/log.md",
        r"one-object attr_P@10 {N} -> {N} against v10, short of the target, and against v9 the\s+"
        r"generator's captions -{N} and the default person's own words -{N} R@1",
        (
            *old_and_new(V12_V10, "| object (bind) | attr_P@10 |"),
            change(V12_V9, "| caption (bind) | R@1 |"),
            change(V12_V9, "| caption (default) (bind) | R@1 |"),
        ),
    ),
    # docs/builtin_model.md: the levers after v10 (levers_after_v10.md's change rows: caption
    # R@1 0, attr_P@10 1, own words 4, held-out sketch 5 and painting 6, generator sketch 7)
    Quote(
        "lab/log.md",
        r"attr_P@10 -{N}, captions -{N} R@1, the held-out person's paintings -{N} R@10; "
        r"`max_width` stays 0",
        tuple(Cell(AFTER_V10, CHANGE, i) for i in (1, 0, 6)),
    ),
    Quote(
        "lab/log.md",
        r"the held-out person's sketches -{N} and paintings -{N} R@10, the generator's sketches "
        r"-{N} R@1",
        tuple(Cell(AFTER_V10, CHANGE, i, line=1) for i in (5, 6, 7)),
    ),
    Quote(
        "lab/log.md",
        r"attr_P@10 \+{N} and \+{N} over two training seeds, each against the shipped recipe of "
        r"its seed, for captions -{N} / -{N} R@1 and a person's own words -{N} / -{N} R@1",
        (
            Cell(AFTER_V10, CHANGE, 1, line=2),
            Cell(AFTER_V10, CHANGE_SEED1, 1),
            Cell(AFTER_V10, CHANGE, 0, line=2),
            Cell(AFTER_V10, CHANGE_SEED1, 0),
            Cell(AFTER_V10, CHANGE, 4, line=2),
            Cell(AFTER_V10, CHANGE_SEED1, 4),
        ),
    ),
    Quote(
        "lab/log.md",
        r"it had measured \+{N} attr_P@10 for -{N} caption R@1 \(`levers.md`\)",
        (Cell("levers.md", CHANGE, 1, line=2), Cell("levers.md", CHANGE, 0, line=2)),
    ),
    Quote(
        "lab/log.md",
        r"1,000-step arms of {N} and {N} training minutes against {N} and {N}",
        (
            Cell(AFTER_V10, "| object_heavy |", 2),
            Cell(AFTER_V10, "| object_heavy_seed1 |", 0),
            Cell(AFTER_V10, "| base |", 0),
            Cell(AFTER_V10, "| base_seed1 |", 0),
        ),
    ),
    # docs/builtin_model.md: more pixels per object (levers_pixels.md: each arm's final row,
    # the change against base, then the pairs table's rows, each arm's second line)
    Quote(
        "lab/log.md",
        r"Step for step it gains on every row: captions \+{N} R@1, one-object attr_P@10 \+{N}, "
        r"the held-out person's sketches and paintings \+{N} / \+{N} R@10, the `default` "
        r"person's \+{N} / \+{N}, the generator's sketches \+{N} R@1",
        tuple(Cell(PIXELS, "| | change against base |", i) for i in (0, 1, 5, 6, 2, 3, 7)),
    ),
    Quote(
        "lab/log.md",
        r"the weakest pair without the image \(a sketch gallery asked by edges\) rises from "
        r"{N} to {N}, and a caption finds the photo at R@1 {N} against {N}\. But a step costs "
        r"more: {N} against {N} minutes of training",
        (
            Cell(PIXELS, "| base |", 0, line=1),
            Cell(PIXELS, "| pixels_96 |", 0, line=1),
            Cell(PIXELS, "| pixels_96 |", 10, line=1),
            Cell(PIXELS, "| base |", 10, line=1),
            Cell(PIXELS, "| pixels_96 |", 5),
            Cell(PIXELS, "| base |", 0),
        ),
    ),
    Quote(
        "lab/log.md",
        r"a red cube among the top 10 for \"a small red metal cube\" {N} of the time against {N}, "
        r"and the linear probe of the image vectors finds the whole object at P@10 {N} against {N}",
        tuple(
            Cell("object_binding_pixels.md", f"| {arm} arm (500 steps) |", i)
            for i, arm in ((4, "pixels_96"), (4, "base"), (8, "pixels_96"), (8, "base"))
        ),
    ),
    # docs/builtin_model.md: the headline table's two columns (human.md's summary)
    *(
        Quote(
            "docs/builtin_model.md",
            rf"\| {re.escape(doc_row)} \| {{N}} / {{N}} \| {{N}} / {{N}} \|",
            _human(f"| {human_row} |", 0, 1, 2, 3),
        )
        for doc_row, human_row in (
            ("sketch", "sketch, generator's"),
            ("depth", "depth, generator's"),
            ("segmentation", "segmentation, generator's"),
            ("normals", "normals, generator's"),
            ("caption", "caption, generator's"),
        )
    ),
    *(
        Quote(
            "docs/builtin_model.md",
            rf"\| {re.escape(doc_row)} \| {{N}} / {{N}} \| {{N}} / {{N}} \|",
            _human(f"| {human_row} |", 0, 1, 2, 3),
        )
        for doc_row, human_row in (
            ("a person's sketch (`default`)", "sketch, default person"),
            ("a person's painting", "painted segmentation, default person"),
            ("a person's own words", "own-words caption, default person"),
        )
    ),
    *(
        Quote(
            "docs/builtin_model.md",
            rf"\| {re.escape(doc_row)} \| R@10 {{N}} \| R@10 {{N}} \|",
            _human(f"| {human_row} |", 1, 3),
        )
        for doc_row, human_row in (
            (
                "a person held out of training (`scrawl`): sketch",
                "sketch, held-out person (`scrawl`)",
            ),
            ("a person held out of training: painting", "painting, held-out person"),
        )
    ),
    Quote(
        "docs/builtin_model.md",
        r"\| one-object captions, attr_P@10 \| {N} \| {N} \(ceiling {N}\)",
        (
            *_human("| one-object captions, attribute precision@10 |", 0, 1),
            Cell("human.md", "| object | ceiling |", 0),
        ),
    ),
    Quote(
        "docs/builtin_model.md",
        r"\| caption \+ sketch, caption \+ depth \| {N}, {N} \| {N}, {N} \|",
        (
            *_human("| caption + sketch, generator's |", 0),
            *_human("| caption + depth, generator's |", 0),
            *_human("| caption + sketch, generator's |", 2),
            *_human("| caption + depth, generator's |", 2),
        ),
    ),
    Quote(
        "docs/builtin_model.md",
        r"\| a person's own words \|[^|]*\|[^|]*\|[^|]*\| short; no reader of these words reaches "
        r"0\.8 \(ceiling {N}\) \|",
        (Cell("caption_ceiling.md", "| default |", 2),),
    ),
    Quote(
        "docs/builtin_model.md",
        r"\| sketch, 5,000 scenes \| [\d.]+ \(its own seed\) \| {N} \|",
        (Cell("builtin_5k.md", "| sketch | bind |", 0),),
    ),
)


def main(argv: list[str] | None = None) -> None:
    """Report (or, with ``--write``, mend) every quoted number that its result file contradicts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the docs' numbers")
    args = parser.parse_args(argv)
    problems = []
    for doc in sorted({q.doc for q in QUOTES}):
        path = ROOT / doc
        text = original = path.read_text()
        for quote in (q for q in QUOTES if q.doc == doc):
            if args.write:
                text = requote(quote, text)
            problems += drift(quote, text)
        if text != original:
            path.write_text(text)
            print(f"rewrote {doc}")
    print("\n".join(problems) if problems else "every quoted number agrees")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
