"""Serving the app from several processes: the HAProxy configuration, a loopback cluster for
testing it, and Kubernetes manifests (deploy/k8s/). Not part of the `explorer` library."""
