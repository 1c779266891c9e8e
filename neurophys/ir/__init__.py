"""The local learning graph IR: one small dataclass per primitive, validated at construction."""
from .cost import Cost
from .coupling import Coupling
from .dataset import Dataset
from .errors import ValidationError
from .graph import Graph, topological_order
from .io import graph_from_dict, graph_to_dict, load, save
from .population import Population
from .rule import Relaxation, Rule
from .training import Training

__all__ = ["Cost", "Coupling", "Dataset", "Graph", "Population", "Relaxation", "Rule", "Training",
           "ValidationError", "graph_from_dict", "graph_to_dict", "load", "save", "topological_order"]
