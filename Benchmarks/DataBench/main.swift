print("data bench: not written yet")
