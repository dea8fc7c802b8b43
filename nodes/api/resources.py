"""The 31 operations that are not creates: prompt manager and queue, upload, clothes, LLM prompt
helpers, member, poses, profiles, templates, and the two documentation-only websocket entries.

Data only; see operations.py for the conventions. Most paths are INFERRED (API.md §2).
"""
from . import enums
from .schema import (ARRAY, BINARY, BOOLEAN, CODE, DOC, EVENTS, FORM, INFERRED, INTEGER, JSON, NOTHING, OBJECT, PATH, QUERY,
                     STRING,
                     TEXT, TEXT_PAIR, TOKEN, UPLOAD, Field, Operation)


def op(number: int, key: str, name: str, group: str, method: str, path: str, evidence: str, returns: str,
       category: str, fields: tuple[Field, ...] = (), doc: str = "", **kw) -> Operation:
    return Operation(key=key, number=number, name=name, group=group, method=method, path=path, evidence=evidence,
                     returns=returns, category=category, fields=fields, doc=doc, **kw)


def path_id(name: str, doc: str) -> Field:
    return Field(name, required=True, where=PATH, doc=doc)


def builder_text(name: str) -> Field:
    return Field(name, min_length=2, max_length=250, doc=f"Character {name} (2..250 characters).")


CHARACTER_BUILDER = ("hairStyle", "hairColor", "age", "body", "outfit", "ethnicity", "theme", "style", "pose")

RESOURCES: tuple[Operation, ...] = (
    # Prompts Manager
    op(1, "get_prompts", "Get Prompts", "Prompts Manager", "GET", "/prompts", CODE, JSON, "Library", (
        Field("page", INTEGER, required=True, where=QUERY, minimum=0, suggest=0, doc="Page number, from 0."),
        Field("pageSize", INTEGER, where=QUERY, maximum=20, suggest=20, doc="Prompts per page (at most 20).",
              note="the doc gives no minimum"),
        Field("promptType", ARRAY, where=QUERY, items=STRING, enum=enums.PROMPT_TYPE, enum_name="PromptType",
              doc="Only prompts of these types (one or several).", note="sent as a repeated query parameter"),
        Field("query", where=QUERY, doc="Search query"),
    ), doc="Endpoints for managing completed prompts."),
    op(2, "delete_prompt", "Delete Prompt", "Prompts Manager", "DELETE", "/prompts/{promptId}", INFERRED, NOTHING,
       "Library", (path_id("promptId", "The prompt to delete."),), doc="Deletes a completed prompt"),
    op(3, "get_prompt", "Get Prompt", "Prompts Manager", "GET", "/prompts/{promptId}", CODE, JSON, "Library",
       (path_id("promptId", "The prompt to read."),), doc="Read a prompt: its request echo and its medias."),
    # Prompts: queue and websocket placeholders
    op(22, "get_pending", "Get Pending", "Prompts", "GET", "/prompts/pending", CODE, JSON, "Library",
       doc="Get pending prompts in the user's queue"),
    op(24, "delete_from_queue", "Delete From Queue", "Prompts", "DELETE", "/prompts/pending", INFERRED, NOTHING,
       "Library", (Field("promptId", required=True, where=QUERY, doc="The queued prompt to remove."),),
       doc="Delete a prompt from the user's queue", note="query parameter from the doc; path guessed beside Get Pending"),
    op(27, "prompt_events", "Websocket Prompt Event Example", "Prompts", "WS", "/ws/prompts/{promptId}", DOC, EVENTS,
       "Library", (path_id("promptId", "The prompt to follow."),),
       doc="Unused endpoint to show the Websocket payload for a prompt event. Connect to "
           "wss://api.aliveai.app/ws/prompts/{promptId} to receive real-time updates for the prompt.",
       note="followed by the client's job handle, never called over HTTP"),
    op(28, "user_events", "Websocket User Event Example", "Prompts", "WS", "/ws/users/{userId}", DOC, EVENTS,
       "Library", (path_id("userId", "The account's id (Me's id; the doc's example shows r9orK)."),
                   Field("token", required=True, where=QUERY, doc="The Bearer access token.")),
       doc="Connect to wss://api.aliveai.app/ws/users/r9orK?token={bearerToken} to receive real-time updates "
           "for the user queue.", note="the doc's URL has the literal r9orK where we send Me's id: its meaning is "
           "unknown (the simulator accepts any); followed by the sidebar's live queue, never called over HTTP"),
    # Upload
    op(29, "upload_file", "Upload File", "Upload", "POST", "/upload", INFERRED, UPLOAD, "Library", (
        Field("name", where=FORM, doc="File name of the upload."),
        Field("image", BINARY, where=FORM, required=True, doc="The file bytes.", note="binary part"),
    ), doc="Upload a file to the server. Returns a mediaId which can be used to reference the file later.",
       multipart=True),
    # Clothes
    op(30, "get_public_clothes", "Get Public Clothes", "Clothes", "GET", "/clothes", INFERRED, JSON, "Catalog",
       doc="Get all public clothes"),
    op(31, "get_custom_clothes", "Get Custom Clothes", "Clothes", "GET", "/clothes/custom", INFERRED, JSON, "Catalog",
       doc="Get custom clothes"),
    op(32, "delete_custom_clothes", "Delete Custom Clothes", "Clothes", "DELETE", "/clothes/custom/{clothesId}",
       INFERRED, NOTHING, "Catalog", (path_id("clothesId", "The custom clothes to delete."),),
       doc="Delete custom clothes"),
    op(33, "get_custom_clothes_by_id", "Get Custom Clothes", "Clothes", "GET", "/clothes/custom/{clothesId}",
       INFERRED, JSON, "Catalog", (path_id("clothesId", "The custom clothes to read."),),
       doc="Get custom clothes by ID"),
    # Llm
    op(34, "generate_character_builder_prompt", "Generate Character Builder Prompt", "Llm", "POST",
       "/llm/character-builder-prompt", INFERRED, TEXT, "Prompt",
       (Field("model", required=True, enum=enums.LLM_MODEL, enum_name="LlmModel", suggest="QWEN3_235B",
              doc="The language model."),) + tuple(builder_text(n) for n in CHARACTER_BUILDER),
       doc="Creates an extended text prompt for the character builder"),
    op(35, "generate_character_prompt", "Generate Character Prompt", "Llm", "POST", "/llm/character-prompt", INFERRED,
       TEXT, "Prompt", (
           Field("profileId", required=True, doc="The character profile (from Get Profiles For User)."),
           Field("theme", required=True, doc="Theme of the prompt."),
           Field("outfit", required=True, doc="Outfit of the character."),
           Field("additionalDetails", doc="Anything else to include."),
       ), doc="Creates an extended text prompt for a character (for a trainer or imported profile)"),
    op(36, "get_clothes_description", "Get Clothes Description", "Llm", "GET", "/llm/clothes-description/{clothesId}",
       INFERRED, TEXT, "Prompt", (path_id("clothesId", "The clothes to describe."),),
       doc="Creates an extended text prompt describing clothes based on the provided clothes ID"),
    op(37, "generate_prompt", "Generate Prompt", "Llm", "POST", "/llm/prompt", INFERRED, TEXT, "Prompt", (
        Field("model", required=True, enum=enums.MODEL, enum_name="Model", suggest="DEFAULT",
              doc="The image model the prompt is for."),
        Field("inputPrompt", required=True, min_length=5, max_length=250, not_blank=True,
              doc="A short idea to expand (5..250 characters)."),
    ), doc="Creates an extended text prompt based on the provided input"),
    op(38, "generate_update_prompt", "Generate Update Prompt", "Llm", "POST", "/llm/update-prompt", INFERRED, TEXT,
       "Prompt", (
           Field("model", required=True, enum=enums.LLM_MODEL, enum_name="LlmModel", suggest="QWEN3_235B",
                 doc="The language model."),
           Field("oldRequest", required=True, doc="The earlier prompt text to update."),
           Field("newRequest", OBJECT, required=True, shape="LlmBuilderPromptRequest",
                 doc="The new character builder fields."),
       ), doc="Updates an existing prompt from the character builder with new information"),
    op(39, "generate_video_prompt", "Generate Video Prompt", "Llm", "POST", "/llm/video-prompt", INFERRED, TEXT_PAIR,
       "Prompt", (
           Field("model", required=True, enum=enums.VIDEO_LLM_MODEL, enum_name="VideoLlmModel", suggest="DEFAULT",
                 doc="The language model."),
           Field("userInput", required=True, min_length=5, max_length=500, doc="What the video shows (5..500 characters)."),
           Field("sceneContext", doc="Optional scene description from a vision description"),
           Field("frameCount", INTEGER, doc="Number of frames.", note="meaning not documented"),
       ), doc="Creates an extended text prompt to be used as a video script"),
    op(40, "generate_vision_prompt", "Generate Vision Prompt", "Llm", "POST", "/llm/vision-prompt", INFERRED, TEXT,
       "Prompt", (Field("mediaId", required=True, media="image", doc="The image to describe."),),
       doc="Creates an extended text prompt describing an existing image"),
    # Member
    op(41, "login", "Login", "Member", "POST", "/members/login", CODE, TOKEN, "Account", (
        Field("email", required=True, not_blank=True, doc="Account e-mail."),
        Field("password", required=True, not_blank=True, doc="Account password."),
    ), doc="Login with email and password", auth=False),
    op(42, "me", "Me", "Member", "GET", "/members/me", INFERRED, JSON, "Library",
       doc="Get current user information", note="the answer holds the account's apiKey: never show or log it raw"),
    # Poses
    op(43, "get_poses", "Get Poses", "Poses", "GET", "/poses", CODE, JSON, "Catalog", doc="Get the pose catalog."),
    op(44, "get_custom_poses", "Get Custom Poses", "Poses", "GET", "/poses/custom", INFERRED, JSON, "Catalog",
       doc="Get your custom poses."),
    op(45, "delete_custom_pose", "Delete Custom Pose", "Poses", "DELETE", "/poses/custom/{poseId}", INFERRED, NOTHING,
       "Catalog", (path_id("poseId", "The custom pose to delete."),), doc="Delete a custom pose."),
    op(46, "get_custom_pose", "Get Custom Pose", "Poses", "GET", "/poses/custom/{poseId}", INFERRED, JSON, "Catalog",
       (path_id("poseId", "The custom pose to read."),), doc="Get a custom pose."),
    # Profile
    op(47, "get_profiles", "Get Profiles For User", "Profile", "GET", "/profiles", INFERRED, JSON, "Catalog", (
        Field("page", INTEGER, required=True, where=QUERY, minimum=0, suggest=0, doc="Page number, from 0."),
        Field("public", BOOLEAN, where=QUERY, doc="true view all profiles, false view only your profiles"),
        Field("sort", where=QUERY, enum=enums.PROFILE_SORT, enum_name="ProfileSortType", doc="Sort order."),
    ), doc="Get Profiles"),
    # Templates
    op(48, "get_templates", "Get Templates", "Template", "GET", "/templates", CODE, JSON, "Catalog",
       doc="Get all public and user Image LoRAs."),
    op(49, "get_edit_templates", "Get Edit Templates", "Template", "GET", "/templates/edit", INFERRED, JSON, "Catalog",
       doc="Get all public and user Image Edit LoRAs for Creative."),
    op(50, "get_edit_templates_realism", "Get Edit Templates Realism", "Template", "GET", "/templates/edit-realism",
       INFERRED, JSON, "Catalog", doc="Get all public and user Image Edit LoRAs for Realism."),
    op(51, "get_video_templates", "Get Templates", "Video Template", "GET", "/video-templates", INFERRED, JSON,
       "Catalog", doc="Get all public and user Video LoRAs."),
    op(52, "get_ltx_video_templates", "Get Ltx Video Templates", "Video Template", "GET", "/video-templates/ltx",
       INFERRED, JSON, "Catalog", doc="Get all public and user Video LoRAs.",
       note="same doc text as Get Templates (video); which videoModel uses LTX is unknown"),
)
