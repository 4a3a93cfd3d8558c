-- GET /v1/db/<collection>/<id> for ids read from BENCH_IDS (one per line), as BENCH_TOKEN.
local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
local path = "/v1/db/" .. os.getenv("BENCH_COLLECTION") .. "/"
local headers = { ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN") }
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", path .. ids[(n * 7919) % #ids + 1], headers)
end
