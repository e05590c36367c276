"""A local Calico node without Docker: Felix enforcing policy between pods that are network namespaces.

    python -m tools.calico_node up|down|apply     (make calico-node / calico-node-down; see __main__.py)

node.py starts the node (etcd and kube-apiserver through tests/integration/apiserver.py, Felix, the agent),
agent.py stands in for the scheduler, kubelet and CNI plugin, kubelet.py serves container logs, forward.py relays
the API server to the machine's loopback, netns.py works inside network namespaces without entering them, and
manifests.py turns manifests into objects the node can take. tests/dataplane/ runs netaudit against it.
"""
