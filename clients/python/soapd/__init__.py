"""Python client of soapd, the SOAP featurization service.

>>> import soapd
>>> client = soapd.Client()                    # $SOAPD_URL or http://127.0.0.1:8080
>>> features = client.features(atoms_list, {"type": "power_spectrum", "species": [1, 6, 8], "hypers": hypers})
>>> features.values.shape

``soapd.featomic`` offers featomic-compatible calculators returning metatensor TensorMaps.
"""
from ._errors import ConnectionError, JobFailed, MissingDependency, SoapdError
from ._features import Features, Gradients, Labels
from .client import Basis, Client, Dataset, Job, ServerLimits

__version__ = "0.1.0"

__all__ = [
    "Basis", "Client", "ConnectionError", "Dataset", "Features", "Gradients", "Job", "JobFailed",
    "Labels", "MissingDependency", "ServerLimits", "SoapdError", "__version__",
]
