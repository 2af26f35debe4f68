def pytest_addoption(parser):  # placeholder replaced below
    pass
