"""Nested request objects (API.md §4). The doc's rendered text lost their field names, so
every field here is from public code (CODE) or our inference (INFERRED); a wrong guess is a
one-line fix here. Validation checks them like top-level fields and rejects unknown keys.
"""
from . import enums
from .schema import ARRAY, BOOLEAN, CODE, INFERRED, INTEGER, NUMBER, STRING, Field, Shape

_BUILDER_TEXT = "2..250 characters (API.md #34)"

SHAPES: dict[str, Shape] = {s.name: s for s in (
    Shape("PoseRequest", evidence=CODE, doc="A pose from Get Poses / Get Custom Poses, or a custom pose prompt.", fields=(
        Field("id", doc="Pose id from Get Poses (#43) or Get Custom Poses (#44).", key_evidence=CODE),
        Field("type", doc="Pose category, e.g. POSE, STANDING, CUSTOM, PORN (single public source).", key_evidence=CODE),
        Field("poseStrength", INTEGER, minimum=0, maximum=100, doc="How strongly the pose is applied, 0..100.",
              key_evidence=CODE, note="0..100 slider in one public client; the API's range is not documented"),
        Field("posePrompt", doc="Text describing a custom pose.", key_evidence=CODE),
    )),
    Shape("FaceSwapRequest", evidence=CODE, doc="Faces to swap in: media ids of face images or of a stored face.", fields=(
        Field("mediaIds", ARRAY, required=True, items=STRING, min_items=1, media="image",
              doc="Media ids of the face image(s).", key_evidence=CODE),
        Field("faceSwapModel", doc="Face swap model; DEFAULT is the only value seen.", default="DEFAULT", key_evidence=CODE),
        Field("isPartialSwap", BOOLEAN, doc="Swap only part of the face.", key_evidence=CODE),
        Field("swapStrength", NUMBER, doc="Strength of the swap (1 in the only public client).", key_evidence=CODE),
        Field("faceReplaceGender", enum=enums.GENDER, enum_name="Gender", doc="Gender of the face to replace.",
              key_evidence=CODE),
    )),
    Shape("TemplateRequest", evidence=CODE, doc="A LoRA template from Get Templates / Get Video Templates.", fields=(
        Field("id", required=True, doc="Template id from the template catalog.", key_evidence=CODE),
        Field("strength", NUMBER, doc="Template strength (10 in the only public client; range not documented).",
              key_evidence=CODE),
        Field("templatePrompt", doc="Extra prompt text for the template.", key_evidence=CODE),
    )),
    Shape("QwenTemplateRequest", evidence=INFERRED, doc="An edit LoRA from Get Edit Templates (Creative or Realism).", fields=(
        Field("id", required=True, doc="Template id from Get Edit Templates.", key_evidence=INFERRED),
        Field("strength", NUMBER, doc="Template strength (range not documented).", key_evidence=INFERRED),
    )),
    Shape("ClothesRequest", evidence=INFERRED, doc="Clothes from the public or custom clothes catalog, or a prompt.", fields=(
        Field("clothesId", doc="Clothes id from Get Public Clothes or Get Custom Clothes.", key_evidence=INFERRED),
        Field("clothesPrompt", doc="Text describing the clothes.", key_evidence=INFERRED),
    )),
    Shape("CropArea", evidence=INFERRED, doc="A rectangle on the source image, in pixels.", fields=(
        Field("x", INTEGER, required=True, minimum=0, doc="Left edge.", key_evidence=INFERRED),
        Field("y", INTEGER, required=True, minimum=0, doc="Top edge.", key_evidence=INFERRED),
        Field("width", INTEGER, required=True, minimum=1, doc="Width.", key_evidence=INFERRED),
        Field("height", INTEGER, required=True, minimum=1, doc="Height.", key_evidence=INFERRED),
    )),
    Shape("LlmBuilderPromptRequest", evidence=INFERRED, doc="The character builder fields (as Generate Character Builder Prompt).",
          fields=(Field("model", required=True, enum=enums.LLM_MODEL, enum_name="LlmModel", key_evidence=INFERRED),) + tuple(
              Field(n, min_length=2, max_length=250, doc=f"Character {n}.", key_evidence=INFERRED, note=_BUILDER_TEXT)
              for n in ("hairStyle", "hairColor", "age", "body", "outfit", "ethnicity", "theme", "style", "pose"))),
)}
