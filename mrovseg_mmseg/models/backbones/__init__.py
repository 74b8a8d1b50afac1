from .multi_res_clip_vit import MultiResCLIPViT

__all__ = ['MultiResCLIPViT']
