from testsvc.app import build

build().run()
