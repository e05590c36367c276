// etcd, exactly as upstream's go.etcd.io/etcd/server/v3 main.go; the version is the one
// k8s.io/kubernetes (pinned in ../../go.mod) requires, so the server matches the client the API server uses.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
