"""The parts of the build that pyproject.toml cannot say declaratively: the computed package list and the
shipped data, the repository's pretrained/ and results/*.json, installed as tbptt_viz/shipped/ (found there by
tbptt_viz.core.resources). Everything else is in pyproject.toml."""
from setuptools import find_namespace_packages, setup

SHIPPED = {"tbptt_viz.shipped.pretrained": "pretrained", "tbptt_viz.shipped.results": "results"}

setup(
    # namespace packages too: data folders such as tbptt_viz/export/static ship without an __init__.py
    packages=find_namespace_packages(include=["tbptt_viz", "tbptt_viz.*"], exclude=["*.__pycache__"]) + list(SHIPPED),
    package_dir=SHIPPED,
    package_data={"tbptt_viz.shipped.pretrained": ["*.json", "*/*.json", "*/*.safetensors"],
                  "tbptt_viz.shipped.results": ["*.json"]},
    exclude_package_data={"tbptt_viz.shipped.results": ["*.html"]},  # the study's figures: the app draws its own
)
