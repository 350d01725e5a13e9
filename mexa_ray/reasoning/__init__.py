"""Routing and aggregation: which experts a question needs, and the answer from their reports."""
