from diko_companies.app import build

build().run()
