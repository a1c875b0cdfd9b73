"""The package list for setuptools; everything else is in pyproject.toml.

``conf/`` stays at the repository's top level and ships inside the wheel as the data of the
``receipt_lightning.conf`` package (``package-dir`` in pyproject.toml maps the folder). Setuptools'
``packages.find`` only names folders by where they are, so the list is computed here: every
package under ``receipt_lightning/``, the Hydra launcher plugin under ``launch/hydra_plugins``, and
the mapped ``receipt_lightning.conf`` and ``receipt_lightning.launch`` (the CloudFormation
template that ``dev-stack`` deploys). A new sub-package is picked up without editing anything.
"""

from setuptools import find_namespace_packages, setup

setup(
    packages=[
        *find_namespace_packages(include=["receipt_lightning", "receipt_lightning.*"]),
        # launch/ holds the `hydra_plugins` namespace package (no __init__.py)
        *find_namespace_packages("launch", include=["hydra_plugins", "hydra_plugins.*"]),
        "receipt_lightning.conf",
        "receipt_lightning.launch",  # launch/: template.yaml and ec2_user_data.sh only
    ]
)
