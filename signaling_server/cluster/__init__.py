"""Several server nodes sharing one switchboard through Redis: see node.py and docs/deployment-cluster.md."""
