print("tdb: not built yet")
