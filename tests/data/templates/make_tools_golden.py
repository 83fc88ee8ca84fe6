#!/usr/bin/env python3
"""Renders every template of golden.json for conversations with tools, tool
calls, tool results and reasoning, the way Hugging Face does (Jinja2's
ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols,
tojson keeping non-ASCII, raise_exception, strftime_now at golden.json's
`now`). Writes tools.json beside it: src/chat/tool_calls_test.cpp checks that
ChatTemplate::apply, given the same conversation as chat::Message values,
renders exactly this. Run: python3 make_tools_golden.py (Debian: python3-jinja2).
"""
import datetime
import json
import os

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
golden = json.load(open(os.path.join(HERE, "golden.json")))
NOW = datetime.datetime.fromisoformat(golden["now"])

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the weather for a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "The city name"},
            "days": {"type": "integer", "description": "How many days"}},
            "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "get_time", "description": "The current time.",
        "parameters": {"type": "object", "properties": {}}}},
]


def call(id_, name, args):
    return {"id": id_, "type": "function", "function": {"name": name, "arguments": args}}


SYSTEM = {"role": "system", "content": "You are helpful."}
ASK = {"role": "user", "content": "Weather in Paris?"}
CONTEXTS = {
    "call": [SYSTEM, ASK,
             {"role": "assistant", "content": "", "reasoning_content": "The user wants the weather.",
              "tool_calls": [call("abc123def", "get_weather", {"city": "Paris", "days": 3})]},
             {"role": "tool", "content": "{\"temp\": 21}", "tool_call_id": "abc123def",
              "name": "get_weather"},
             {"role": "assistant", "content": "It is 21 degrees in Paris."},
             {"role": "user", "content": "And in Rome and Oslo?"}],
    "parallel": [ASK,
                 {"role": "assistant", "content": "",
                  "tool_calls": [call("def456ghi", "get_weather", {"city": "Rome"}),
                                 call("ghi789jkl", "get_weather", {"city": "Oslo"})]},
                 {"role": "tool", "content": "{\"temp\": 25}", "tool_call_id": "def456ghi",
                  "name": "get_weather"},
                 {"role": "tool", "content": "{\"temp\": 4}", "tool_call_id": "ghi789jkl",
                  "name": "get_weather"},
                 {"role": "assistant", "content": "Rome 25, Oslo 4."}],
}


def render(source, context):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[loopcontrols])
    env.filters["tojson"] = lambda x, indent=None, separators=None, sort_keys=False, ensure_ascii=False: \
        json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: NOW.strftime(fmt)
    try:
        return env.from_string(source).render(**context)
    except Exception as e:  # noqa: BLE001 - any failure is the expected result
        return {"error": type(e).__name__}


contexts = {}
for name, messages in CONTEXTS.items():
    contexts[name] = {"messages": messages, "add_generation_prompt": True, "bos_token": "<s>",
                      "eos_token": "</s>", "tools": TOOLS}
out = {"note": "Rendered by make_tools_golden.py with Python Jinja2 " + jinja2.__version__,
       "now": golden["now"], "contexts": contexts, "expected": {}}
for tname, entry in golden["templates"].items():
    out["expected"][tname] = {c: render(entry["template"], ctx) for c, ctx in contexts.items()}
with open(os.path.join(HERE, "tools.json"), "w") as f:
    json.dump(out, f, ensure_ascii=False, indent=1)
    f.write("\n")
