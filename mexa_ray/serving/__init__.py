"""The Ray Serve application: one deployment per expert, the fan-out that calls them and the
aggregator, the HTTP ingress, and the glue (transport, placement registry, runtime). The rest of
`mexa_ray` never imports Serve; this package and `mexa_ray.bulk` are the two runtimes over it.
"""
