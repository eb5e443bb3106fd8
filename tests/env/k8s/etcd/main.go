// Thin wrapper around etcd's own main (go.etcd.io/etcd/server/v3 v3.6.16,
// server/main.go, Apache-2.0) so etcd can be built from the Go module proxy.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
