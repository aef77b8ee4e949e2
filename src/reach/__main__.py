"""``python -m reach``: the ``reach`` command, also as a file ``spark-submit`` can run
(docs/scale.md)."""

from reach.cli.main import app

if __name__ == "__main__":
    app(prog_name="reach")
