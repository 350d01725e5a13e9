"""Bulk benchmark evaluation: the stages of the Ray Data job (`jobs/evaluate.py`), its output
store and its report. The stages are plain callable classes over Arrow tables that call the same
library code as the Serve deployments; only `jobs/` wires them into Ray Data.
"""
