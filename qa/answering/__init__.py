"""Answering: from retrieved passages to a cited `Answer`, one module per job.

- `extractive`: the trained reader marks the short answer; its sentence is quoted and cited.
- `description`: "Who is <name>?" answered with the words that describe them.
- `abstention`: "The articles don't say." with related passages; recognising a model's.
- `prompt`: the messages of a generated answer (rules, example, conversation, passages).
- `chat`: calling a chat model: streamed reply, deadline, failures as `LLMError`.
- `markers`: citation markers in a reply: filtered while streaming; sentences with markers.
- `support`: how well a passage backs a claim.
- `check`: a model's reply made into an `Answer` whose citations are checked.
- `generate`: prompt → model → markers → check, as a stream of text then the `Answer`.
- `followup`: follow-up questions made standalone without a model (the previous turn).
- `rewrite`: follow-up questions made standalone by the model.
- `stream`: `AnswerStream`, the answer that streams when iterated and blocks for its value.

A package rather than flat `qa/` modules: these ten belong to one step of the read path and
only `qa.engine` uses them together; flat, they would sit among retrieval, the CLI and
evaluation with nothing saying which go together.
"""

__all__: list[str] = []
