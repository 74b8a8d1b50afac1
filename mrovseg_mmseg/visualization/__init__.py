from .legend_visualizer import LegendSegVisualizer
from .overlay import draw_overlay, make_palette

__all__ = ['LegendSegVisualizer', 'draw_overlay', 'make_palette']
