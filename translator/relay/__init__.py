"""The relay: consume notifications, publish what they become.

The pipeline, top to bottom:

- a ``Source`` delivers messages (``translator.transports``: the driver of
  the source bus);
- ``router`` decides what each becomes: ``translator.envelope`` reads it,
  ``translator.translation`` translates it with the compiled mapping set,
  ``changes`` holds back unchanged updates, ``dead_letter`` makes what
  cannot be translated into a dead letter;
- a ``Target`` publishes the outputs (the driver of the target bus);
- ``ledger`` says which source messages may be acknowledged once their
  outputs are confirmed; ``loop`` drives it all.

Beside it: ``metrics`` (Prometheus, /healthz, /readyz), ``problem_log``
(per-message problems at a readable rate) and ``dead_letter_commands``
(list and replay the dead-letter store).
"""
