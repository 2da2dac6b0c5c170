"""Property-based: whatever the server sends (names, messages, ids, URLs, log text), the GITHUB_OUTPUT
file parses back to exactly our outputs, and the dotenv file is one GitLab accepts with only our keys."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from deployer.model import Deployment
from deployer.reporting.outputs import DOTENV_KEYS, dotenv_text, github_output_text, step_outputs
from deployer.safe_text import one_line
from tests.runner_files import parse_github_file, parse_gitlab_dotenv

hostile_text = st.one_of(
    st.text(),
    st.sampled_from(
        [
            "ghadelimiter_",
            "x<<EOF",
            "status=hacked",
            "\nstatus=hacked\n",
            "EOF",
            "\r\n",
            "=",
            "<<",
            "::set-output name=a::b",
            "a\u2028b",
            "a\x85b",
            "DEPLOY_STATUS=finished",
            "#",
            " ",
            "\x00",
        ]
    ),
    st.lists(
        st.sampled_from(["\n", "\r", "=", "<<", "ghadelimiter_", "status", " ", "x", "#", "\t", "\u2028"]), max_size=12
    ).map("".join),
)


@st.composite
def deployments(draw) -> list[Deployment]:
    items = []
    for _ in range(draw(st.integers(0, 4))):
        d = Deployment(
            provider="coolify",
            resource=draw(hostile_text),
            kind="application",
            deployment_id=draw(st.none() | hostile_text),
            status=draw(st.sampled_from(["finished", "failed", "timeout"])),
            url=draw(st.none() | hostile_text),
            message=draw(hostile_text),
            name=draw(st.none() | hostile_text),
        )
        d.log_tail = draw(st.lists(hostile_text, max_size=3))
        items.append(d)
    return items


def normalized(value: str) -> str:
    return value.replace("\r\n", "\n").replace("\r", "\n")


@settings(max_examples=300, deadline=None)
@given(deployments(), st.sampled_from(["finished", "failed", "queued"]), st.integers(0, 10**6))
def test_github_output_parses_back_to_exactly_our_outputs(items, status, duration):
    outputs = step_outputs(status, duration, items)
    parsed = parse_github_file(github_output_text(outputs))
    assert set(parsed) == set(outputs)
    assert parsed == {k: normalized(v) for k, v in outputs.items()}
    assert parsed["status"] == status
    # Server text is neutralised on its way to any sink: one line, no controls (deployer.safe_text).
    assert [r["resource"] for r in json.loads(parsed["result"])] == [one_line(d.resource) for d in items]


@settings(max_examples=300, deadline=None)
@given(deployments(), st.sampled_from(["finished", "failed", "queued"]), st.integers(0, 10**6))
def test_dotenv_is_accepted_and_carries_only_our_keys(items, status, duration):
    outputs = step_outputs(status, duration, items)
    parsed = parse_gitlab_dotenv(dotenv_text(outputs))
    # DEPLOY_VERSION and DEPLOY_ROLLED_BACK only when a version was pinned (tests/test_versions.py)
    assert set(parsed) == set(DOTENV_KEYS.values()) - {
        "DEPLOY_VERSION",
        "DEPLOY_ROLLED_BACK",
        "DEPLOY_RESOURCE_ID",
        "DEPLOY_CREATED",
    }
    assert parsed["DEPLOY_STATUS"] == status
    assert parsed["DEPLOY_DURATION"] == str(duration)


def test_dotenv_stays_under_5_kb_with_many_deployments():
    ids = [f"{n:024d}" for n in range(400)]
    items = [
        Deployment("coolify", i, "application", i, status="finished", url="https://c.example.com/" + "p" * 2000)
        for i in ids
    ]
    text = dotenv_text(step_outputs("finished", 1, items))
    assert len(text.encode()) < 5 * 1024
    kept = parse_gitlab_dotenv(text)["DEPLOY_IDS"].split(",")
    assert 100 < len(kept) < 400 and kept == ids[: len(kept)]  # whole ids, in order
