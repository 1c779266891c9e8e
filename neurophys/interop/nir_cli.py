"""`neurophys nir export FILE OUT.nir` and `neurophys nir import IN.nir OUT.json`."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("nir", help="convert the inference part of a graph to/from NIR (learning info kept in metadata)")
    nsub = p.add_subparsers(dest="nir_command", metavar="ACTION")
    nsub.required = True
    e = nsub.add_parser("export", help="write a neurophys graph file as a NIR (HDF5) file")
    e.add_argument("file")
    e.add_argument("out", metavar="OUT.nir")
    e.set_defaults(func=_export)
    i = nsub.add_parser("import", help="read a NIR file and write a neurophys graph file")
    i.add_argument("file", metavar="IN.nir")
    i.add_argument("out", metavar="OUT.json")
    i.set_defaults(func=_import)


def _export(args) -> int:
    from .. import ir
    from . import nir

    nir.export(ir.load(args.file), args.out)
    print(f"wrote {args.out}")
    return 0


def _import(args) -> int:
    from .. import ir
    from . import nir

    g = nir.load(args.file)
    ir.save(g, args.out)
    print(f"wrote {args.out}: graph {g.name!r}, family {g.rule.family}, {len(g.populations)} populations, "
          f"{len(g.couplings)} couplings")
    return 0
