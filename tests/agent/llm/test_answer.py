"""The skill-call answer contract: schema shape and validation of what a model may send back."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from embodied_mem.agent.llm import InvalidAnswer, SkillCall, answer_schema, parse_answer

SKILLS = {"collect": ("wood", "stone"), "place": ("table",), "explore": ()}


def plan(*steps, **extra):
    return json.dumps({"plan": [{"skill": s, "target": t} for s, t in steps], **extra})


def test_valid_plan_in_order():
    calls = parse_answer(plan(("collect", "wood"), ("place", "table"), ("explore", None)), SKILLS)
    assert calls == [SkillCall("collect", "wood"), SkillCall("place", "table"), SkillCall("explore", None)]
    assert str(calls[0]) == "collect wood" and str(calls[2]) == "explore"


def test_code_fence_and_reason_accepted():
    text = "```json\n" + plan(("collect", "stone"), reason="need stone") + "\n```"
    assert parse_answer(text, SKILLS) == [SkillCall("collect", "stone")]


@pytest.mark.parametrize("text,kind,names", [
    ("", "empty", "empty"),
    ('{"plan": [{"skill": "collect", "target": "wo', "json", "not JSON"),
    ("[1, 2]", "schema", "'plan'"),
    (json.dumps({"plan": "collect wood"}), "schema", "'plan' must be a list"),
    (json.dumps({"plan": []}), "empty", "empty"),
    (plan(("fly", None)), "skill", "'fly'"),
    (plan(("collect", "diamond")), "target", "'diamond'"),
    (plan(("explore", "north")), "target", "takes no parameter 'target'"),
    (plan(("collect", "wood"), extra=1), "schema", "extra"),
    (json.dumps({"plan": [{"skill": "collect", "target": "wood", "times": 3}]}), "schema", "times"),
    (plan(*[("collect", "wood")] * 5), "schema", "at most 4"),
])
def test_invalid_answers_name_the_problem(text, kind, names):
    with pytest.raises(InvalidAnswer) as info:
        parse_answer(text, SKILLS)
    assert info.value.kind == kind
    assert names in str(info.value)


def test_schema_pairs_each_skill_with_its_targets():
    s = answer_schema(SKILLS, max_steps=3)
    assert s["properties"]["plan"]["maxItems"] == 3
    options = {o["properties"]["skill"]["const"]: o for o in s["properties"]["plan"]["items"]["anyOf"]}
    assert options["collect"]["properties"]["target"] == {"type": "string", "enum": ["wood", "stone"]}
    assert options["collect"]["required"] == ["skill", "target"]
    assert options["explore"]["properties"] == {"skill": {"const": "explore"}}
    with pytest.raises(ValueError, match="skills"):
        answer_schema({})


@dataclass(frozen=True)
class Param:
    name: str
    type: str = "string"
    choices: tuple = ()
    required: bool = True


@dataclass(frozen=True)
class Spec:
    name: str
    description: str
    params: tuple = ()


SPECS = (Spec("collect", "gather a material", (Param("target", choices=("tree", "stone")),
                                               Param("item", choices=("wood", "stone")),
                                               Param("level", "integer", required=False))),
         Spec("explore", "walk to unseen places"))


def test_skill_specs_with_typed_parameters():
    calls = parse_answer(json.dumps({"plan": [{"skill": "collect", "target": "tree", "item": "wood", "level": 2},
                                              {"skill": "explore", "target": None}]}), SPECS)
    assert calls[0] == SkillCall("collect", "tree", (("item", "wood"), ("level", 2)))
    assert calls[0].get("level") == 2 and calls[1] == SkillCall("explore")
    for step, kind in [({"skill": "collect", "target": "tree"}, "schema"),  # item required
                       ({"skill": "collect", "target": "tree", "item": "gold"}, "param"),
                       ({"skill": "collect", "target": "tree", "item": "wood", "level": "2"}, "param"),
                       ({"skill": "collect", "target": "tree", "item": "wood", "level": True}, "param"),
                       ({"skill": "collect", "target": "tree", "item": "wood", "speed": 3}, "schema")]:
        with pytest.raises(InvalidAnswer) as info:
            parse_answer(json.dumps({"plan": [step]}), SPECS)
        assert info.value.kind == kind, step
    s = answer_schema(SPECS)
    collect = s["properties"]["plan"]["items"]["anyOf"][0]
    assert collect["required"] == ["skill", "target", "item"] and collect["properties"]["level"] == {"type": "integer"}
