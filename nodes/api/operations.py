"""The 21 create operations (API.md §3.0): each starts a paid job and returns a promptId.

Data only. Paths marked INFERRED follow the `POST /prompts/<kebab-name>` pattern and are
unverified: when the live API answers 404/405, fix the one `path=` here. Doc texts are quoted
from the doc; `note=` holds our own remarks.
"""
from . import enums
from .schema import (ARRAY, BOOLEAN, CODE, DOC, IMAGE, INFERRED, INTEGER, NUMBER, OBJECT, SEED_PATTERN, STRING, VIDEO,
                     Field, Operation)

SEED_DOC = "Optional seed for image generation. Must be a numeric string (max 18 digits)."


def seed(strict: bool = False) -> Field:
    """`seed` is on every create. Four ops enforce ^\\d{1,18}$ in the doc; the others declare a
    plain string, and we send digit strings there too (API.md §1.5) without enforcing it."""
    if strict:
        return Field("seed", doc=SEED_DOC, pattern=SEED_PATTERN)
    return Field("seed", doc="Optional seed (a numeric string).", note="no pattern in the doc for this operation")


def media(name: str = "mediaId", kind: str = "image", required: bool = True, doc: str = "") -> Field:
    return Field(name, required=required, media=kind,
                 doc=doc or f"ID of the {kind} to work on (an upload or an earlier result).")


def created_from(required: bool = False, media: str | None = "mediaId") -> Field:
    """`media` names the field whose media's prompt is sent (the source image, never a mask);
    None where the operation has no media input, so the user types it."""
    return Field("createdFromPromptId", required=required, from_prompt=True, from_media=media,
                 doc="The promptId that produced the input media (filled from the upstream node).",
                 note="meaning inferred from the name; required here" if required else "meaning inferred from the name")


def enum(name: str, values: tuple[str, ...], enum_name: str, required: bool = False, default: str | None = None,
         doc: str = "", deprecated: bool = False, **kw) -> Field:
    return Field(name, required=required, enum=values, enum_name=enum_name, default=default, doc=doc,
                 deprecated=deprecated, **kw)


def text(name: str, max_length: int | None = None, required: bool = False, doc: str = "", **kw) -> Field:
    return Field(name, STRING, required=required, max_length=max_length, doc=doc, **kw)


def pose(key_evidence: str = DOC) -> Field:
    return Field("pose", OBJECT, shape="PoseRequest", doc="Pose to apply (build it with the Pose node).",
                 key_evidence=key_evidence)


def clothes(key_evidence: str = DOC, doc: str = "Clothes to wear (build it with the Clothes node).") -> Field:
    return Field("clothesRequest", OBJECT, shape="ClothesRequest", doc=doc, key_evidence=key_evidence)


def face_swap(required: bool, key_evidence: str = DOC) -> Field:
    return Field("faceSwap", OBJECT, required=required, shape="FaceSwapRequest",
                 doc="Optional Face swap configuration" if not required else "Face swap configuration.",
                 key_evidence=key_evidence)


def templates(name: str, shape: str, max_items: int, doc: str, key_evidence: str = DOC) -> Field:
    return Field(name, ARRAY, shape=shape, min_items=1, max_items=max_items, doc=doc, key_evidence=key_evidence)


def create(number: int, key: str, name: str, path: str, evidence: str, prompt_type: str, echo: str,
           returns: str, category: str, fields: tuple[Field, ...], doc: str = "", note: str = "") -> Operation:
    server_id = Field("serverId", where="query",
                      doc="Optional server ID to use for prompt processing. If empty it will select an available server.")
    return Operation(key=key, number=number, name=name, group="Prompts", method="POST", path=path, evidence=evidence,
                     returns=returns, category=category, fields=fields + (server_id,), prompt_type=prompt_type,
                     echo=echo, doc=doc, note=note)


CREATES: tuple[Operation, ...] = (
    create(4, "create_prompt", "Create Prompt", "/prompts", CODE, "IMAGE_DEFAULT", "originalPrompt", IMAGE, "Generate", (
        seed(strict=True),
        text("name", 200, required=True, doc="Name of the character. Affects the characters face. "
             "A unique and realistic First and Last name is recommended."),
        text("appearance", 1500, required=True, doc="Describe the appearance of the character."),
        enum("gender", enums.GENDER, "Gender"),
        text("background", 1000, doc="Background of the image."),
        text("fromLocation", 100, doc="Where the character is from (free text, e.g. NORWAY)."),
        text("faceDetails", 1000, doc="Details only affecting the face"),
        Field("faceImproveEnabled", BOOLEAN, default=True,
              doc="If enabled it will improve the face using the faceDetails prompt."),
        enum("faceModel", enums.FACE_MODEL, "FaceModel", default="REALISM",
             doc="Specify the model used for the face improve step. Only applies if faceImproveEnabled is true."),
        Field("faceImproveStrength", INTEGER, minimum=0, maximum=10, default=5,
              doc="Strength of the face details improvement. Higher values will make the face details more dominant "
                  "but can also lead to less coherent images. Only applies if faceImproveEnabled is true. "
                  "Recommended default value is 5."),
        text("negativeDetails", 1000, doc="Negative details to avoid in the image generation."),
        text("scene", 1000, doc="Additional scene details to enhance the image generation."),
        pose(key_evidence=CODE),
        face_swap(required=False, key_evidence=CODE),
        enum("model", enums.MODEL, "Model", doc="The image model.", note="no default in the doc; the sample uses DEFAULT"),
        enum("modelTemplate", enums.MODEL_TEMPLATE, "ModelTemplate", deprecated=True,
             doc="Deprecated: use modelTemplates."),
        templates("modelTemplates", "TemplateRequest", 10, "Image LoRAs from Get Templates (build with the LoRA stack node).",
                  key_evidence=CODE),
        Field("blockExplicitContent", BOOLEAN, doc="If enabled AI will avoid nudity. Works best with DEFAULT AI model"),
        enum("detailLevel", enums.DETAIL_LEVEL, "DetailLevel", required=True, suggest="MEDIUM",
             doc="Level of detail.", note="required, though missing from the doc's own sample"),
        enum("aspectRatio", enums.ASPECT_RATIO, "AspectRatio", doc="Aspect ratio of the image (pixel sizes not documented)."),
        Field("cfg", INTEGER, minimum=1, maximum=10, default=5,
              doc="Classifier-Free Guidance scale. Higher values will make the image generation more closely follow "
                  "the prompt, but can also lead to less coherent images. Recommended default value is 5."),
        clothes(key_evidence=INFERRED, doc="Optional clothes configuration. Only applies to the CHARACTER_CREATOR model "
                "and will be ignored for other models."),
    ), doc="Create a new prompt for image generation"),
    create(5, "create_after_face_swap", "Create After Face Swap", "/prompts/after-face-swap", INFERRED,
           "AFTER_FACE_SWAP", "afterFaceSwapPrompt", IMAGE, "Edit", (
               seed(), media(doc="The image whose face is changed."), face_swap(required=True), created_from(),
           ), doc="Changes the face of an existing image"),
    create(6, "create_character_image", "Create Character Image", "/prompts/character-image", INFERRED,
           "CHARACTER_IMAGE", "createCharacterImageRequest", IMAGE, "Generate", (
               seed(strict=True),
               text("prompt", 1000, required=True, doc="What the character does and where."),
               Field("profileId", required=True, doc="The character profile (from Get Profiles For User)."),
               enum("aspectRatio", enums.ASPECT_RATIO, "AspectRatio", required=True, suggest="DEFAULT",
                    doc="Aspect ratio of the image."),
               Field("highResolution", BOOLEAN, required=True, suggest=False, doc="Render at high resolution."),
               enum("characterType", enums.CHARACTER_TYPE, "CharacterType", required=True, suggest="ZIMAGE",
                    doc="The character model."),
               templates("modelTemplates", "QwenTemplateRequest", 5, "Edit LoRAs (build with the Edit LoRA stack node)."),
               Field("characterStrength", NUMBER, minimum=0, maximum=2, doc="How strongly the character is applied, 0..2."),
               pose(), clothes(),
               Field("improveFace", BOOLEAN, required=True, suggest=True, doc="Improve the face."),
               Field("improveBreasts", BOOLEAN, required=True, suggest=False, doc="Improve the breasts."),
               Field("improveVagina", BOOLEAN, required=True, suggest=False, doc="Improve the vagina."),
           )),
    create(7, "create_character_training_data", "Create Character Training Data", "/prompts/character-training-data",
           INFERRED, "CHARACTER_TRAINING_DATA", "createCharacterTrainingDataRequest", IMAGE, "Edit", (
               seed(), media(), created_from(required=True),
               text("prompt", 300, required=True, doc="Describe the character for the training data."),
           ), note="how many images it produces is not documented"),
    create(8, "create_face", "Create Face", "/prompts/face", INFERRED, "CREATE_FACE", "createFaceRequest", IMAGE,
           "Generate", (
               seed(strict=True),
               enum("faceCreationModel", enums.FACE_CREATION_MODEL, "FaceCreationModel", required=True,
                    default="DEFAULT", doc="The face model."),
               text("prompt", 500, required=True, doc="Describe the face."),
               Field("extraRandomness", BOOLEAN, required=True, suggest=False,
                     doc="Add more randomness to the face generation. This can lead to more unique and varied results, "
                         "but may also result in less consistent faces across generations with the same prompt. "
                         "Only for model DEFAULT"),
               created_from(media=None),  # no media input here: a text widget
           )),
    create(9, "create_edit_breasts", "Create Edit Breasts", "/prompts/edit-breasts", INFERRED, "EDIT_BREASTS",
           "editBreastsRequest", IMAGE, "Edit", (seed(), media(), created_from())),
    create(10, "edit_eyes", "Edit Eyes", "/prompts/edit-eyes", INFERRED, "IMPROVE_EYES", "eyeImproveRequest", IMAGE,
           "Edit", (
               seed(), media(), created_from(required=True),
               text("text", required=True, min_length=1, doc="Describe the eyes."),
           )),
    create(11, "edit_image", "Edit Image", "/prompts/edit-image", CODE, "EDIT_IMAGE", "createEditImageRequest", IMAGE,
           "Edit", (
               enum("editModel", enums.EDIT_MODEL, "EditModel", required=True, suggest="CREATIVE", doc="The edit model."),
               seed(), media(), created_from(required=True),
               Field("ignoreFace", BOOLEAN, required=True, suggest=False, doc="Leave the face out of the edit."),
               Field("restoreFace", BOOLEAN, required=True, suggest=False, doc="Restore the face after the edit."),
               text("prompt", 400, doc="What to change."),
               pose(), clothes(),
               templates("modelTemplates", "QwenTemplateRequest", 5,
                         "Edit LoRAs from Get Edit Templates (Creative or Realism)."),
               media("maskMediaId", kind="mask", required=False,
                     doc="Mask of the area to edit (white = change; the convention is inferred)."),
           )),
    create(12, "create_edit_improve_face", "Create Edit Improve Face", "/prompts/edit-improve-face", INFERRED,
           "EDIT_IMPROVE_FACE", "createEditImproveFaceRequest", IMAGE, "Edit", (
               seed(), media(), text("faceDetails", doc="Details of the face."), created_from(required=True),
           )),
    create(13, "upscale_image", "Upscale Image", "/prompts/upscale-image", INFERRED, "EDIT_UPSCALE_IMAGE",
           "createUpscaleImageRequest", IMAGE, "Edit", (
               seed(), media(), created_from(required=True),
               Field("restoreFace", BOOLEAN, required=True, suggest=False, doc="Restore the face while upscaling."),
               text("prompt", 2000, doc="What the image shows, to guide the upscale."),
               Field("strength", NUMBER, doc="Upscale strength.", note="no range in the doc; sample value 0.1"),
               enum("upscaleModel", enums.UPSCALE_MODEL, "UpscaleModel", doc="The upscale model."),
           )),
    create(14, "edit_vagina", "Edit Vagina", "/prompts/edit-vagina", CODE, "EDIT_VAGINA", "createEditVaginaRequest",
           IMAGE, "Edit", (seed(), media(), created_from(required=True), text("prompt", 300, doc="What to change.")),
           note="path seen only in early versions of one client"),
    create(15, "edit_video_extend", "Edit Video Extend", "/prompts/edit-video-extend", INFERRED, "EXTEND_VIDEO",
           "createExtendVideoRequest", VIDEO, "Video", (
               seed(), media(kind="video"),
               text("prompt", 500, required=True, min_length=1, doc="What happens in the extension."),
               created_from(),
               templates("videoTemplates", "TemplateRequest", 5, "Video LoRAs (build with the Video LoRA stack node)."),
           )),
    create(16, "edit_video_increase_fps", "Edit Video Increase Fps", "/prompts/edit-video-increase-fps", INFERRED,
           "EDIT_VIDEO_INCREASE_FPS", "editVideoIncreaseFpsRequest", VIDEO, "Video",
           (seed(), media(kind="video"), created_from())),
    create(17, "create_enhance_image", "Create Enhance Image", "/prompts/enhance-image", INFERRED, "EDIT_ENHANCE",
           "createEnhanceImageRequest", IMAGE, "Edit",
           (seed(), media(), created_from(), text("prompt", 500, doc="What to enhance."))),
    create(18, "create_face_improve_prompt", "Create Face Improve Prompt", "/prompts/face-improve", INFERRED,
           "FACE_IMPROVE", "faceImprovePrompt", IMAGE, "Edit", (
               seed(), media(),
               text("faceDetails", doc="Details of the face."),
               text("negativeFaceDetails", doc="Face details to avoid."),
               Field("strength", INTEGER, required=True, minimum=1, maximum=100, suggest=50, doc="Strength, 1..100."),
               Field("faceIndex", INTEGER, suggest=0, doc="Which face of the image (0 in the doc's sample).",
                     note="range and base not documented; sample value 0"),
               created_from(),
               enum("faceModel", enums.FACE_MODEL, "FaceModel", doc="The face model."),
           ), doc="Improves the face of an existing image"),
    create(19, "create_image_to_video", "Create Image To Video", "/prompts/image-to-video", CODE, "IMAGE_TO_VIDEO",
           "imageToVideoRequest", VIDEO, "Video", (
               seed(strict=True),
               enum("videoModel", enums.VIDEO_MODEL, "VideoModel", required=True, suggest="DEFAULT",
                    doc="The video model.", note="required, though missing from the doc's own sample"),
               media(doc="ID of the media (image) to be used as the source for video generation"),
               media("lastFrameMediaId", required=False,
                     doc="ID of the media (image) to be used as the last frame in the video"),
               Field("customImage", BOOLEAN, upload_flag=True,
                     doc="Indicates whether a custom image (external image upload) is used for video generation"),
               text("text", 1500, required=True, min_length=1,
                    doc="Text prompt describing the content of the video to be generated"),
               text("scene", 600, min_length=1, doc="Scene description to provide additional context for video generation"),
               enum("template", enums.IMAGE_TO_VIDEO_TEMPLATE, "ImageToVideoTemplate", deprecated=True,
                    doc="Deprecated: use videoTemplates."),
               created_from(),
               templates("videoTemplates", "TemplateRequest", 5, "Video LoRAs (build with the Video LoRA stack node).",
                         key_evidence=INFERRED),
               enum("videoLength", enums.VIDEO_LENGTH, "VideoLength", default="SHORT",
                    doc="Length of the generated video. SHORT = 5 seconds. MEDIUM = 10 seconds. SHORT is recommended"),
               enum("videoFrameRate", enums.VIDEO_FRAME_RATE, "VideoFrameRate", doc="Frame rate (actual fps not documented)."),
               enum("videoQuality", enums.VIDEO_QUALITY, "VideoQuality",
                    doc="Quality of the generated video. Only applicable to videoModel GROK", only_with=("videoModel", ("GROK",))),
               Field("motionStrength", INTEGER, minimum=0, maximum=6,
                     doc="Optional. Adds additional motion to the video. Use it to avoid slow motion look. "
                         "Only applicable to videoModel DEFAULT.", only_with=("videoModel", ("DEFAULT",))),
           ), doc="Create a new prompt for video generation"),
    create(20, "inpaint", "Inpaint", "/prompts/inpaint", INFERRED, "INPAINT", "inpaintRequest", IMAGE, "Edit", (
        seed(),
        media("maskMediaId", kind="mask", doc="Mask of the area to repaint (white = change; the convention is inferred)."),
        media("originalMediaId", doc="The image to inpaint."),
        created_from(required=True, media="originalMediaId"),
        Field("strength", INTEGER, required=True, minimum=1, maximum=100, suggest=75, doc="Inpaint strength, 1..100."),
        text("prompt", 200, required=True, doc="What to paint into the masked area."),
        text("negativePrompt", 200, doc="What to avoid."),
    )),
    create(21, "inpaint_google", "Inpaint Google", "/prompts/inpaint-google", INFERRED, "GOOGLE_INPAINT",
           "googleInpaintRequest", IMAGE, "Edit", (
               seed(), media(),
               Field("cropArea", OBJECT, shape="CropArea", doc="Area of the image to work on (build with the Crop Area node)."),
               Field("base64Png", doc="A PNG as base64 (a mask or a patch: meaning not documented).",
                     note="meaning inferred"),
               created_from(required=True),
               text("prompt", 400, required=True, doc="What to change."),
               enum("googleModel", enums.GOOGLE_MODEL, "GoogleModel", required=True, suggest="GEMINI_2_5",
                    doc="The Gemini model."),
           )),
    create(23, "create_portrait", "Create Portrait", "/prompts/portrait", INFERRED, "PORTRAIT", "createPortraitRequest",
           IMAGE, "Generate", (
               seed(), face_swap(required=True),
               enum("model", enums.MODEL, "Model", doc="The image model."),
               enum("detailLevel", enums.DETAIL_LEVEL, "DetailLevel", required=True, suggest="MEDIUM", doc="Level of detail."),
               enum("gender", enums.PORTRAIT_GENDER, "PortraitGender", required=True, suggest="FEMALE", doc="Gender."),
               enum("ethnicity", enums.ETHNICITY, "Ethnicity", required=True, suggest="EUROPEAN", doc="Ethnicity."),
               enum("scene", enums.SCENE, "Scene", required=True, suggest="HEADSHOT", doc="Scene of the portrait."),
               enum("aspectRatio", enums.ASPECT_RATIO, "AspectRatio", doc="Aspect ratio of the image."),
               created_from(),
           )),
    create(25, "upscale_video", "Upscale Video", "/prompts/upscale-video", INFERRED, "UPSCALE_VIDEO",
           "createUpscaleVideoRequest", VIDEO, "Video", (
               seed(),
               enum("videoUpscaleModel", enums.VIDEO_UPSCALE_MODEL, "VideoUpscaleModel", required=True, suggest="DEFAULT",
                    doc="The video upscale model."),
               media(kind="video"), created_from(),
           )),
    create(26, "create_video_prompt", "Create Video Prompt", "/prompts/video", INFERRED, "VIDEO_EXPRESSION",
           "originalVideoExpressionPrompt", VIDEO, "Video", (
               seed(), media(),
               enum("videoExpression", enums.VIDEO_EXPRESSION, "VideoExpression", required=True, suggest="SMILE_SMALL",
                    doc="The facial expression of the video."),
               created_from(),
           )),
)
