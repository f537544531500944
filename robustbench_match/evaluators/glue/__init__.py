"""The ``glue`` suite kind: evaluator.py (plans and scores cells), params.py (typed suite params), layout.py
(its tables)."""
