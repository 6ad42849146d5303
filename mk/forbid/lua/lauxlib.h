/* Layering: only src/lua and src/host may include Lua's headers (README, Architecture) */
#error "only src/lua and src/host may include Lua's headers (README, Architecture)"
