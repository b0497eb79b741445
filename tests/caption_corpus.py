"""A small caption corpus with several references per caption, shared by the caption-metric tests."""

CANDS = [
    "a person walks forward and then turns left.",
    "someone jumps up twice in place",
    "a man waves his right hand above his head",
    "the person sits down on the ground slowly",
    "a person runs in a circle counterclockwise",
    "a figure kicks with the left leg, then steps back",
    "person is doing jumping jacks",
    "a man walks backwards",
]
REFS = [
    ["a man walks forward then turns left", "a person walks straight and turns around to the left"],
    ["a person jumps twice in place", "someone hops up and down two times"],
    ["a person waves with the right hand above the head", "someone waves"],
    ["a person sits down on the floor slowly"],
    ["a person jogs in a counterclockwise circle", "the man runs around in a circle"],
    ["a person kicks with the left leg and steps back", "someone kicks forward with their left foot"],
    ["a person does jumping jacks", "the person performs four jumping jacks in a row"],
    ["a person walks backwards slowly", "a man is walking backward"],
]
