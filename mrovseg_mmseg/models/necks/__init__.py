from .multi_res_adapter import MultiResAdapter
from .multi_res_fusion import MultiResFusion

__all__ = ['MultiResAdapter', 'MultiResFusion']
