-- vision.lua -- images and a PDF in a message: content as a list of
-- parts. Bytes are given raw (the gateway base64-encodes them); an image
-- may also be a URL.
--
--   build/bin/llmgateway -c examples/sim.yaml examples/vision.lua
--
-- The simulator describes the attachments it received in its echo.
local llm = require("llmgateway")

local gw = llm.Gateway(assert(llm.load_runtime_spec(llm.resolve_user_config_file())))

-- A 1x1 transparent PNG.
local png = "\137PNG\r\n\26\n\0\0\0\rIHDR\0\0\0\1\0\0\0\1\8\6\0\0\0\31\21\196\137"
  .. "\0\0\0\rIDATx\156c\0\1\0\0\5\0\1\13\10\45\180\0\0\0\0IEND\174B`\130"
local pdf = "%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"

local result, err = gw:call({
  task = "analysis",
  messages = {{role = "user", content = {
    {type = "text", text = "What do these show? Compare them with the report."},
    {type = "image", data = png, media_type = "image/png", detail = "low"},
    {type = "image", url = "https://example.com/chart.png"},
    {type = "file", data = pdf, media_type = "application/pdf",
     filename = "report.pdf"},
  }}},
})
if not result then
  print("request failed: " .. tostring(err))
  os.exit(1)
end
print(string.format("sent %d image bytes and a %d-byte PDF", #png, #pdf))
print("answer: " .. result.text)
