"""``soapd-client``: featurize structure files, fit bases and manage jobs from the shell."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, List, Optional, Sequence

from ._deps import require
from ._errors import ConnectionError, MissingDependency, SoapdError
from .client import Client


def _read_structures(paths: Sequence[str], fmt: Optional[str]) -> List[Any]:
    """Every frame of every file, in order, with any format ASE reads."""
    ase_io = require("ase.io", "reading structure files", "ase", extra="ase")
    frames: List[Any] = []
    for path in paths:
        read = ase_io.read(path, index=":", format=fmt)
        frames.extend(read if isinstance(read, list) else [read])
    return frames


def _load_json(path: str) -> Any:
    with open(path) as f:
        return json.load(f)


def _target(atoms: Any, key: str) -> float:
    if key in atoms.info:
        return float(atoms.info[key])
    if key == "energy" and atoms.calc is not None:
        return float(atoms.get_potential_energy())
    raise SystemExit(f"soapd-client: a structure has no '{key}' (neither in its info nor from a calculator)")


def _featurize(args: argparse.Namespace, client: Client) -> None:
    systems = _read_structures(args.files, args.format)
    descriptor = _load_json(args.descriptor)
    if args.job:
        job = client.submit(systems, descriptor, per=args.per, gradients=args.gradients)
        print(f"job {job.id}", file=sys.stderr)
        job.wait(progress=not args.quiet)
        features = job.result()
    else:
        features = client.features(systems, descriptor, per=args.per, gradients=args.gradients, progress=not args.quiet)
    features.save(args.output)
    print(f"{features.values.shape[0]} rows × {features.values.shape[1]} columns written to {args.output}", file=sys.stderr)


def _fit(args: argparse.Namespace, client: Client) -> None:
    systems = _read_structures(args.files, args.format)
    descriptor = _load_json(args.descriptor)
    targets = [_target(a, args.target) for a in systems] if args.target else None
    dataset = client.create_dataset(descriptor)
    dataset.add(systems, targets=targets, progress=not args.quiet)
    basis = client.fit_basis(
        dataset, method=args.method, contraction=args.contraction, q_max=args.q_max,
        residual_variance=args.residual_variance, gamma=args.gamma, center_specific=args.center_specific,
    )
    print(basis.id)


def _job(args: argparse.Namespace, client: Client) -> None:
    job = client.job(args.id)
    if args.action == "status":
        print(json.dumps(job.status(), indent=2))
    elif args.action == "result":
        if not args.output:
            raise SystemExit("soapd-client: job result needs --output FILE.npz")
        if args.wait:
            job.wait(progress=not args.quiet)
        features = job.result()
        features.save(args.output)
        print(f"{features.values.shape[0]} rows × {features.values.shape[1]} columns written to {args.output}", file=sys.stderr)
    else:
        info = job.cancel()
        print(json.dumps(info, indent=2) if info else f"job {args.id} removed")


def parser() -> argparse.ArgumentParser:
    """The command line parser."""
    p = argparse.ArgumentParser(prog="soapd-client", description="Client of the soapd featurization service.")
    p.add_argument("--url", help="server URL (default: $SOAPD_URL, then http://127.0.0.1:8080)")
    p.add_argument("--token", help="bearer token")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    sub = p.add_subparsers(dest="command", required=True)

    f = sub.add_parser("featurize", help="featurize structure files into an .npz")
    f.add_argument("files", nargs="+", metavar="FILE", help="structure files (any format ASE reads; every frame)")
    f.add_argument("--descriptor", required=True, metavar="D.json", help="the API's descriptor object")
    f.add_argument("--output", "-o", required=True, metavar="OUT.npz")
    f.add_argument("--per", choices=["atom", "structure"], default="atom")
    f.add_argument("--gradients", action="store_true", help="add position gradients")
    f.add_argument("--job", action="store_true", help="run as a server-side batch job (with progress)")
    f.add_argument("--format", help="ASE format name when it cannot be guessed from the file name")
    f.set_defaults(run=_featurize)

    b = sub.add_parser("fit", help="build a dataset from structure files and fit an optimal basis; prints its id")
    b.add_argument("files", nargs="+", metavar="FILE")
    b.add_argument("--descriptor", required=True, metavar="D.json", help="species and hypers of the primitive basis")
    b.add_argument("--method", choices=["pca", "pcovr"], default="pca")
    b.add_argument("--contraction", choices=["separate", "mixed"], default="mixed")
    group = b.add_mutually_exclusive_group(required=True)
    group.add_argument("--q-max", type=int)
    group.add_argument("--residual-variance", type=float)
    b.add_argument("--gamma", type=float)
    b.add_argument("--center-specific", action="store_true")
    b.add_argument("--target", metavar="KEY", help="per-structure target for pcovr: atoms.info[KEY] (or 'energy')")
    b.add_argument("--format")
    b.set_defaults(run=_fit)

    j = sub.add_parser("job", help="status, result or cancellation of a batch job")
    j.add_argument("action", choices=["status", "result", "cancel"])
    j.add_argument("id")
    j.add_argument("--output", "-o", metavar="OUT.npz", help="where `result` writes the features")
    j.add_argument("--wait", action="store_true", help="`result`: wait for the job to end first")
    j.set_defaults(run=_job)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``soapd-client``; returns the exit status."""
    args = parser().parse_args(argv)
    try:
        with Client(args.url, args.token) as client:
            args.run(args, client)
    except (SoapdError, ConnectionError, MissingDependency, TimeoutError, OSError, ValueError, TypeError) as exc:
        print(f"soapd-client: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
