"""Bulk benchmark evaluation on Ray Data: the job (`job.py`, run as `python -m mexa_ray.bulk` or
`mexa eval`), its stages (plain callable classes over Arrow tables that call the same library code
as the Serve deployments), its resumable output store and its report. Dataset adapters live in
`mexa_ray.datasets`; performance scripts in the repository's `benchmarks/`.
"""
