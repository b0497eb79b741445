"""Task instructions (lm/instructions.py + lm/prompts.yaml): fast, no LLM."""
from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from motiongpt2.lm.instructions import (
    ALIGNMENT_TASKS, DEFAULT_EOS, DEFAULT_PROMPTS, LENGTH_TASKS, TASKS, Prompt, PromptFileError, Sample,
    alignment_samples, build_prompt, build_sample, format_chat, inbetween_margin, load_prompts,
    prediction_prefix, text_only_sample)
from motiongpt2.lm.vocab import MotionVocab

REPO = Path(__file__).resolve().parents[1]
VERSIONS = ("V0", "V1", "V2")
CAPTION = "a person walks forward, turns around and waves with the right hand."
SYSTEM = ("Below is an instruction that describes a task, paired with an input that provides further context. "
          "Write a response that appropriately completes the request.")
V1_SYSTEM = ("Human motion can be represented by token indices by VQ-VAE. Below is an instruction that describes "
             "human motion generation condition types, paired with an input that provides specific conditions. "
             "Write a sequence of tokens matching with given conditions.")
MOTION_SPAN = re.compile(r"<motion>.*?</motion>")

BODY = MotionVocab(("motion",), (512,))
WHOLE = MotionVocab(("body", "hand"), (512, 512))


def vocab_for(task):
    return WHOLE if task == "wholebody" else BODY


def motion(n, vocab=BODY, seed=0):
    return np.random.default_rng(seed).integers(0, 512, size=(n, vocab.n_streams))


def spans(text, vocab):
    """Every motion span of ``text``, parsed back to ``(n, S)`` tokens."""
    out = []
    for m in MOTION_SPAN.finditer(text):
        parsed = vocab.parse(m.group(0))
        assert parsed.ok, parsed.problems
        out.append(parsed.tokens)
    return out


def sample(task, n=20, seed=0, version="V0", length_hint=False, vocab=None):
    vocab = vocab or vocab_for(task)
    return build_sample(task, vocab, caption=CAPTION, tokens=motion(n, vocab, seed), rng=np.random.default_rng(seed),
                        prompts=load_prompts(version=version), length_hint=length_hint)


def conditions(s: Sample, tokens, vocab):
    """The build_prompt conditions of a sample, derived from the motion and the meta independently of
    build_sample's own code."""
    task, m = s.task, s.meta
    if task in ("t2m", "wholebody", "align-t2m"):
        return {"caption": CAPTION}
    if task in ("m2t", "align-m2t"):
        return {"tokens": tokens}
    if task == "t2m-init":
        return {"caption": CAPTION, "init": tokens[0]}
    if task == "t2m-last":
        return {"caption": CAPTION, "last": tokens[-1]}
    if task == "t2m-key":
        return {"caption": CAPTION, "key": {p: tokens[p] for p in m["pose_positions"]}}
    if task == "predict":
        return {"prefix": tokens[:m["given_spans"][0][1]]}
    if task == "inbetween":
        (_, a), (b, _) = m["given_spans"]
        return {"start": tokens[:a], "end": tokens[b:]}
    return {}


# ---------------------------------------------------------------------------------------- the file
def test_one_prompt_file_in_the_package():
    assert DEFAULT_PROMPTS == REPO / "src" / "motiongpt2" / "lm" / "prompts.yaml"
    assert DEFAULT_PROMPTS.is_file()
    assert not (REPO / "configs" / "lm" / "prompts.yaml").exists(), "one copy of the wording only"


@pytest.mark.parametrize("version", VERSIONS)
def test_every_version_defines_every_task_with_paraphrases(version):
    P = load_prompts(version=version)
    assert P.version == version and set(P.versions) >= set(VERSIONS)
    assert set(P.tasks) == set(TASKS) | set(ALIGNMENT_TASKS)
    for task in TASKS + ALIGNMENT_TASKS:
        assert P.n_paraphrases(task) >= (3 if version == "V0" else 2), task
        assert len(set(P.task(task).instructions)) == P.n_paraphrases(task), f"duplicate paraphrase in {task}"
        assert bool(P.task(task).length) == (task in LENGTH_TASKS)


def test_paper_wording_v0_v1_v2():
    """Sec. III-B (V0) and Sec. V (V1, V2) of the paper, quoted."""
    v0, v1, v2 = (load_prompts(version=v) for v in VERSIONS)
    p = build_prompt("t2m", BODY, caption=CAPTION, prompts=v0)
    assert p.startswith(SYSTEM + "\n\n### Instruction:\n")
    assert p.instruction == "Generate a sequence of motion tokens matching the following human motion description."
    assert p.input == CAPTION and p.endswith("### Response:\n")
    for which, arg in (("init", "init"), ("last", "last"), ("key", "key")):
        cond = {arg: [(2, [7])]} if which == "key" else {arg: [7]}
        p = build_prompt(f"t2m-{which}", BODY, caption=CAPTION, prompts=v0, **cond)
        assert p.instruction == ("Generate a sequence of motion tokens matching the following human motion description "
                                 f"given the {which} pose tokens.")
        q = build_prompt(f"t2m-{which}", BODY, caption=CAPTION, prompts=v1, **cond)
        assert q.instruction == f"Motion description and the {which} pose tokens."
        r = build_prompt(f"t2m-{which}", BODY, caption=CAPTION, prompts=v2, **cond)
        assert r.instruction == (f"Generate the token sequence of the motion description under the premise of given "
                                 f"{which} pose tokens.")
    p1 = build_prompt("t2m", BODY, caption=CAPTION, prompts=v1)
    assert p1.system == V1_SYSTEM and p1.instruction == "Motion description."
    p2 = build_prompt("t2m", BODY, caption=CAPTION, prompts=v2)
    assert p2.system == SYSTEM and p2.instruction == "Generate the token sequence of the motion description."
    # paper's input form: "Text control condition X <Motion Token> P </Motion Token>"
    assert build_prompt("t2m-init", BODY, caption=CAPTION, init=[7], prompts=v0).input == \
        f"{CAPTION} <motion><motion_id_7></motion>"


# ---------------------------------------------------------------------------------------- building
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("task", TASKS + ALIGNMENT_TASKS)
def test_every_task_builds_and_fills_its_placeholders(task, version):
    for length_hint in ((False, True) if task in LENGTH_TASKS else (False,)):
        for seed in range(3):
            s = sample(task, n=15 + seed, seed=seed, version=version, length_hint=length_hint)
            assert s.task == task and isinstance(s.prompt, Prompt)
            assert "{" not in s.prompt and "}" not in s.prompt
            assert s.prompt.endswith("### Response:\n") and s.prompt.startswith(s.prompt.system)
            assert s.answer and "{" not in s.answer
            assert ("### Input:" in s.prompt) == (task != "text-only")
            if task in ("m2t", "align-m2t", "text-only"):
                assert s.answer == CAPTION
            else:
                assert MOTION_SPAN.fullmatch(s.answer)
            if length_hint:
                n = s.meta["n_tokens"]
                assert s.meta["length"] == n and f"{n} motion tokens" in s.prompt
                assert f"{n * 0.2:.2f}".rstrip("0").rstrip(".") + " s" in s.prompt


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("task", TASKS + ALIGNMENT_TASKS)
def test_training_prompt_equals_inference_prompt(task, version):
    P = load_prompts(version=version)
    vocab = vocab_for(task)
    for seed in range(4):
        for length_hint in ((False, True) if task in LENGTH_TASKS else (False,)):
            tokens = motion(9 + 3 * seed, vocab, seed)
            s = build_sample(task, vocab, caption=CAPTION, tokens=tokens, rng=np.random.default_rng(seed),
                             prompts=P, length_hint=length_hint)
            p = build_prompt(task, vocab, **conditions(s, tokens, vocab), length=s.meta["length"],
                             paraphrase=s.meta["paraphrase"], prompts=P)
            assert p == s.prompt
            assert (p.system, p.instruction, p.input, p.user) == \
                (s.prompt.system, s.prompt.instruction, s.prompt.input, s.prompt.user)


def test_paraphrase_choice_is_seeded():
    for task in TASKS + ALIGNMENT_TASKS:
        a, b = sample(task, seed=5), sample(task, seed=5)
        assert (a.prompt, a.answer, a.meta) == (b.prompt, b.answer, b.meta)
        chosen = {build_sample(task, vocab_for(task), caption=CAPTION, tokens=motion(20, vocab_for(task)),
                               rng=np.random.default_rng(seed)).meta["paraphrase"] for seed in range(40)}
        assert chosen == set(range(load_prompts().n_paraphrases(task))), task


def test_prediction_split_20_percent_and_reassembly():
    assert [prediction_prefix(n) for n in (2, 3, 5, 8, 10, 13, 49, 50)] == [1, 1, 1, 2, 2, 3, 10, 10]
    for n in range(2, 60):
        a = prediction_prefix(n)
        # the eval protocol's rule in frames (u = 4 frames per token): u·round(0.2·L/u), in [u, L-u]
        assert 4 * a == min(max(4 * round(0.2 * 4 * n / 4), 4), 4 * n - 4)
        tokens = motion(n, seed=n)
        s = build_sample("predict", BODY, caption=CAPTION, tokens=tokens, rng=np.random.default_rng(n))
        (given,) = spans(s.prompt, BODY)
        assert len(given) == a and s.meta["answer_span"] == (a, n) and s.meta["given_spans"] == [(0, a)]
        assert np.array_equal(np.concatenate([given, BODY.parse(s.answer).tokens]), tokens)


def test_inbetween_split_25_percent_and_reassembly():
    assert [inbetween_margin(n) for n in (3, 4, 5, 8, 10, 12, 40)] == [1, 1, 1, 2, 2, 3, 10]
    for n in range(3, 60):
        a = inbetween_margin(n)
        assert 1 <= a and n - 2 * a >= 1
        tokens = motion(n, seed=n)
        s = build_sample("inbetween", BODY, caption=CAPTION, tokens=tokens, rng=np.random.default_rng(n))
        start, end = spans(s.prompt, BODY)
        middle = BODY.parse(s.answer).tokens
        assert len(start) == len(end) == a and len(middle) == n - 2 * a
        assert np.array_equal(np.concatenate([start, middle, end]), tokens)


def test_init_last_and_key_poses_carry_their_positions():
    tokens = motion(25, seed=3)
    s = build_sample("t2m-init", BODY, caption=CAPTION, tokens=tokens, rng=np.random.default_rng(0))
    (pose,) = spans(s.prompt, BODY)
    assert np.array_equal(pose, tokens[:1]) and s.meta["pose_positions"] == [0]
    s = build_sample("t2m-last", BODY, caption=CAPTION, tokens=tokens, rng=np.random.default_rng(0))
    (pose,) = spans(s.prompt, BODY)
    assert np.array_equal(pose, tokens[-1:]) and s.meta["pose_positions"] == [24]
    counts = set()
    for seed in range(60):
        s = build_sample("t2m-key", BODY, caption=CAPTION, tokens=tokens, rng=np.random.default_rng(seed))
        pos = s.meta["pose_positions"]
        counts.add(len(pos))
        assert 1 <= len(pos) <= 3 and pos == sorted(set(pos)) and all(0 <= p < 25 for p in pos)
        poses = spans(s.prompt, BODY)
        assert len(poses) == len(pos)
        for p, pose in zip(pos, poses):
            assert np.array_equal(pose, tokens[p:p + 1])
            sec = f"{p * 0.2:.2f}".rstrip("0").rstrip(".")
            assert f"{BODY.render(tokens[p:p + 1])} at token {p} ({sec} s)" in s.prompt
        assert s.meta["key_seconds"] == [round(p * 0.2, 2) for p in pos]
        assert np.array_equal(BODY.parse(s.answer).tokens, tokens)
    assert counts == {1, 2, 3}
    # a one-token motion has one key pose
    s = build_sample("t2m-key", BODY, caption=CAPTION, tokens=tokens[:1], rng=np.random.default_rng(0))
    assert s.meta["pose_positions"] == [0]


def test_wholebody_has_body_and_hand_spans_of_equal_length():
    tokens = motion(17, WHOLE, seed=2)
    s = build_sample("wholebody", WHOLE, caption=CAPTION, tokens=tokens, rng=np.random.default_rng(0),
                     length_hint=True)
    assert s.answer.startswith("<motion><body>") and "</body><hand>" in s.answer
    body, hand = re.search(r"<body>(.*)</body>", s.answer).group(1), re.search(r"<hand>(.*)</hand>", s.answer).group(1)
    assert body.count("<body_id_") == hand.count("<hand_id_") == 17
    assert np.array_equal(WHOLE.parse(s.answer).tokens, tokens)
    assert "17 motion tokens per part" in s.prompt
    with pytest.raises(ValueError, match="body\\+hand"):
        build_sample("wholebody", BODY, caption=CAPTION, tokens=motion(5), rng=np.random.default_rng(0))
    # the other tasks work on body+hand motions too
    s = build_sample("inbetween", WHOLE, tokens=tokens, rng=np.random.default_rng(0))
    start, end = spans(s.prompt, WHOLE)
    assert np.array_equal(np.concatenate([start, WHOLE.parse(s.answer).tokens, end]), tokens)


def test_length_condition():
    p = build_prompt("t2m", BODY, caption=CAPTION, length=12)
    assert p.input == f"{CAPTION}\nThe motion lasts 2.4 seconds (12 motion tokens)."
    p = build_prompt("t2m", BODY, caption=CAPTION, length=12, seconds_per_token=0.32)  # KIT: 4 frames at 12.5 fps
    assert "3.84 seconds" in p
    assert build_prompt("predict", BODY, prefix=[[1], [2]], length=10).input.endswith(
        "\nThe whole motion, including the given beginning, lasts 2 seconds (10 motion tokens).")
    assert "given start and end included: 2 seconds" in build_prompt("inbetween", BODY, start=[[1]], end=[[2]],
                                                                      length=10, paraphrase=1)
    with pytest.raises(ValueError, match="m2t takes no length"):
        build_prompt("m2t", BODY, tokens=[[1]], length=3)
    with pytest.raises(ValueError, match="nothing to generate"):
        build_prompt("predict", BODY, prefix=[[1], [2]], length=2)
    with pytest.raises(ValueError, match="beyond length"):
        build_prompt("t2m-key", BODY, caption=CAPTION, key=[(5, [1])], length=5)
    with pytest.raises(ValueError, match="takes no length"):
        build_sample("m2t", BODY, caption=CAPTION, tokens=motion(4), rng=np.random.default_rng(0), length_hint=True)


# ---------------------------------------------------------------------------------------- stage 2
def test_alignment_and_text_only_samples():
    tokens = motion(11)
    t2m, m2t = alignment_samples(CAPTION, tokens, BODY, np.random.default_rng(0))
    assert (t2m.task, m2t.task) == ("align-t2m", "align-m2t")
    assert t2m.prompt.input == CAPTION and np.array_equal(BODY.parse(t2m.answer).tokens, tokens)
    assert m2t.answer == CAPTION and np.array_equal(BODY.parse(m2t.prompt.input).tokens, tokens)
    assert len(t2m.prompt.instruction) < 50 and len(m2t.prompt.instruction) < 50  # plain short prompts
    s = text_only_sample(CAPTION, np.random.default_rng(0))
    assert s.task == "text-only" and s.answer == CAPTION and s.prompt.input is None
    assert "<motion" not in s.prompt and "### Input" not in s.prompt
    assert s.prompt.startswith("Below is an instruction that describes a task. Write a response")


# ---------------------------------------------------------------------------------------- LLM text
class FakeTokenizer:
    eos_token = "<|eot|>"
    chat_template = "{{ fake }}"

    def __init__(self, system_role=True):
        self.system_role = system_role
        self.seen = None

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=False):
        assert tokenize is False and add_generation_prompt is True
        if not self.system_role and any(m["role"] == "system" for m in messages):
            raise RuntimeError("System role not supported")
        self.seen = messages
        return "<bos>" + "".join(f"<{m['role']}>{m['content']}<end>" for m in messages) + "<assistant>"


def test_format_chat_alpaca_default_and_loss_start():
    s = sample("t2m-key")
    prompt_text, answer_text = format_chat(s)
    assert prompt_text == s.prompt and answer_text == s.answer + DEFAULT_EOS
    full = prompt_text + answer_text
    assert full[len(prompt_text):].startswith("<motion>")  # the loss starts at the first answer character
    assert format_chat(s, FakeTokenizer())[1] == s.answer + "<|eot|>"
    assert format_chat(s, eos="<e>")[1] == s.answer + "<e>"
    p = build_prompt("m2t", BODY, tokens=motion(4))
    assert format_chat(p) == (p, "")  # inference: nothing to append


def test_format_chat_with_a_chat_template():
    s = sample("m2t")
    tok = FakeTokenizer()
    prompt_text, answer_text = format_chat(s, tok, chat_template=True)
    assert tok.seen == [{"role": "system", "content": SYSTEM},
                        {"role": "user", "content": f"{s.prompt.instruction}\n\n{s.prompt.input}"}]
    assert prompt_text.endswith("<assistant>") and answer_text == CAPTION + "<|eot|>"
    tok = FakeTokenizer(system_role=False)
    format_chat(s, tok, chat_template=True)
    assert [m["role"] for m in tok.seen] == ["user"] and tok.seen[0]["content"].startswith(SYSTEM)
    with pytest.raises(ValueError, match="chat template"):
        format_chat(s, None, chat_template=True)
    with pytest.raises(ValueError, match="Prompt"):
        format_chat(str(s.prompt), FakeTokenizer(), chat_template=True)


def test_prompts_and_samples_pickle():
    s = sample("t2m-init")
    t = pickle.loads(pickle.dumps(s))
    assert t == s and isinstance(t.prompt, Prompt) and t.prompt.user == s.prompt.user
    P = pickle.loads(pickle.dumps(load_prompts(version="V1")))  # e.g. a dataset sent to DataLoader workers
    assert P == load_prompts(version="V1")


# ---------------------------------------------------------------------------------------- validation
def one_line_value_error(fn, match):
    with pytest.raises(ValueError, match=match) as err:
        fn()
    assert "\n" not in str(err.value)


def test_clear_errors():
    rng = np.random.default_rng(0)
    one_line_value_error(lambda: build_prompt("dance", BODY, caption=CAPTION), "unknown task 'dance'")
    one_line_value_error(lambda: build_sample("dance", BODY, caption=CAPTION, tokens=motion(3), rng=rng),
                         "unknown task")
    one_line_value_error(lambda: load_prompts(version="V9"), "unknown prompt version 'V9'.*V0, V1, V2")
    one_line_value_error(lambda: build_prompt("t2m", BODY), "t2m needs caption")
    one_line_value_error(lambda: build_prompt("t2m-init", BODY, caption=CAPTION), "needs init")
    one_line_value_error(lambda: build_prompt("inbetween", BODY, start=[[1]]), "needs end")
    one_line_value_error(lambda: build_prompt("predict", BODY, caption=CAPTION, prefix=[[1]]),
                         "predict does not take caption")
    one_line_value_error(lambda: build_sample("m2t", BODY, tokens=motion(3), rng=rng), "caption")
    one_line_value_error(lambda: build_sample("t2m", BODY, caption=CAPTION, tokens=motion(3, WHOLE), rng=rng),
                         r"tokens: expected motion tokens of shape \(N, 1\), got shape \(3, 2\)")
    one_line_value_error(lambda: build_sample("t2m", BODY, caption=CAPTION, tokens=np.zeros((2, 3, 1), int),
                                              rng=rng), "shape")
    one_line_value_error(lambda: build_prompt("t2m-init", BODY, caption=CAPTION, init=[[1], [2]]),
                         "one pose token")
    one_line_value_error(lambda: build_prompt("m2t", BODY, tokens=[[600]]), "out of range")
    one_line_value_error(lambda: build_prompt("m2t", BODY, tokens=[[0.5]]), "integer")
    one_line_value_error(lambda: build_prompt("m2t", BODY, tokens=np.zeros((0, 1), int)), "at least 1")
    one_line_value_error(lambda: build_prompt("t2m", BODY, caption=CAPTION, paraphrase=99), "paraphrase")
    one_line_value_error(lambda: build_prompt("t2m-key", BODY, caption=CAPTION, key=[(1, [2]), (1, [3])]),
                         "given twice")
    one_line_value_error(lambda: build_prompt("t2m-key", BODY, caption=CAPTION, key=[(-1, [2])]), "≥ 0")
    one_line_value_error(lambda: build_prompt("t2m", BODY, caption="   "), "caption")
    one_line_value_error(lambda: build_sample("predict", BODY, tokens=motion(1), rng=rng), "at least 2")
    one_line_value_error(lambda: build_sample("inbetween", BODY, tokens=motion(2), rng=rng), "at least 3")
    one_line_value_error(lambda: build_sample("t2m", BODY, caption=CAPTION, tokens=motion(3), rng=0), "Generator")
    one_line_value_error(lambda: build_prompt("t2m", None, caption=CAPTION), "needs a MotionVocab")


def test_bad_prompt_files(tmp_path):
    text = DEFAULT_PROMPTS.read_text()

    def load(new_text):
        path = tmp_path / f"p{abs(hash(new_text))}.yaml"
        path.write_text(new_text)
        return load_prompts(path)

    assert load(text).task("t2m").instructions == load_prompts().task("t2m").instructions
    with pytest.raises(PromptFileError, match=r"t2m-init.*missing \['init'\]"):
        load(text.replace('t2m-init: "{caption} {init}"', 't2m-init: "{caption}"'))
    with pytest.raises(ValueError, match=r"unknown \['captoin'\]"):
        load(text.replace('t2m: "{caption}"', 't2m: "{captoin} {caption}"'))
    with pytest.raises(ValueError, match=r"unknown tasks \['wholebodyx'\]"):
        load(text.replace("      wholebody:\n", "      wholebodyx:\n", 1))
    raw = yaml.safe_load(text)
    del raw["versions"]["V2"]["tasks"]["predict"]
    load(yaml.safe_dump(raw))  # V0 is still complete
    with pytest.raises(ValueError, match=r"versions.V2.tasks: missing tasks \['predict'\]"):
        load_prompts(tmp_path / f"p{abs(hash(yaml.safe_dump(raw)))}.yaml", version="V2")
    with pytest.raises(ValueError, match="length"):
        load(text.replace("({tokens} motion tokens).", "(many motion tokens).", 1))
    with pytest.raises(ValueError, match="not a plain"):
        load(text.replace('t2m: "{caption}"', 't2m: "{caption!r}"'))
