"""Test flags shared with nbdev: `slow` tests (real model) run only when TEST_FLAGS contains 'slow',
`cuda` tests only when it contains 'cuda' (and a GPU is present)."""
import os
import pytest

FLAGS = set(os.environ.get('TEST_FLAGS', '').split())


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: uses the real embedded model (run with TEST_FLAGS=slow)')
    config.addinivalue_line('markers', 'cuda: needs a CUDA GPU (run with TEST_FLAGS=cuda)')


def pytest_collection_modifyitems(config, items):
    for item in items:
        for flag in ('slow', 'cuda'):
            if flag in item.keywords and flag not in FLAGS:
                item.add_marker(pytest.mark.skip(reason=f'needs TEST_FLAGS={flag}'))
