from .legend_visualizer import LegendSegVisualizer
from .overlay import draw_overlay, make_palette
from .proposals import draw_proposals

__all__ = [
    'LegendSegVisualizer', 'draw_overlay', 'draw_proposals', 'make_palette'
]
