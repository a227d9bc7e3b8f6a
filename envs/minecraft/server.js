// A local flying-squid Minecraft server for tests and the memory-driven task.
//
//   node server.js CONFIG.json
//
// CONFIG: {"host": "127.0.0.1", "port": 0, "version": "1.16.5", "generation": "superflat",
//          "spawn": [x, y, z] | null, "blocks": [[x, y, z, "block_name"], ...], "game_mode": 0}
// port 0 picks a free loopback port. The server always runs in offline mode (no Mojang
// authentication, nothing leaves the machine). Protocol lines on stdout start with "@@em " and hold
// JSON: {"event": "ready", "port": N, "placed": K} once listening with every block placed, or
// {"event": "error", "message": "..."} (then it exits with code 2). The parent stops the server
// with SIGTERM; the server also exits when its stdin closes (the parent died), so it never outlives it.
'use strict'

const fs = require('fs')

function emit (obj) {
  process.stdout.write('\n@@em ' + JSON.stringify(obj) + '\n')
}

function fail (message) {
  emit({ event: 'error', message })
  process.exit(2)
}

process.on('uncaughtException', (err) => fail('uncaught: ' + (err && err.stack ? err.stack : String(err))))
process.on('unhandledRejection', (err) => fail('unhandled rejection: ' + (err && err.stack ? err.stack : String(err))))
process.on('SIGTERM', () => process.exit(0))
// The parent holds our stdin open; when it dies (even by SIGKILL) stdin ends and so do we: no orphans.
process.stdin.on('end', () => process.exit(0))
process.stdin.resume()

async function main () {
  const path = process.argv[2]
  if (!path) fail('usage: node server.js CONFIG.json')
  const cfg = JSON.parse(fs.readFileSync(path, 'utf8'))
  const host = cfg.host || '127.0.0.1'
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') fail(`host must be loopback, got ${host}`)
  const { Vec3 } = require('vec3')
  const mcServer = require('flying-squid')
  const serv = mcServer.createMCServer({
    motd: 'embodied_mem test server',
    host,
    port: cfg.port || 0,
    'max-players': 4,
    'online-mode': false,
    logging: false,
    noConsoleOutput: true,
    gameMode: cfg.game_mode ?? 0,
    difficulty: 0,
    generation: cfg.generation === 'diamond_square'
      ? { name: 'diamond_square', options: { worldHeight: 80, seed: cfg.seed ?? 1 } }
      : { name: 'superflat', options: {} },
    kickTimeout: 10000,
    plugins: {},
    modpe: false,
    'view-distance': cfg.view_distance ?? 4,
    // flying-squid crashes on login without this setting
    'player-list-text': { header: { text: 'embodied_mem' }, footer: { text: 'test server' } },
    'everybody-op': true,
    'max-entities': 100,
    version: cfg.version || '1.16.5'
  })
  if (cfg.spawn) {
    const s = new Vec3(cfg.spawn[0], cfg.spawn[1], cfg.spawn[2])
    serv.getSpawnPoint = async () => s
  }
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start listening within 20 s')), 20000)
    serv.on('listening', (p) => { clearTimeout(timer); resolve(p) })
    serv.on('error', (e) => { clearTimeout(timer); reject(e) })
  })
  await serv.waitForReady(20000)
  // The world lives only in memory (no world folder): flying-squid unloads a chunk column when its
  // last viewer leaves, and an unloaded column comes back freshly generated — without the placed
  // blocks and without what the bot dug. Our arenas are small: keep every column loaded.
  serv.overworld.unloadColumn = () => {}
  const registry = serv.registry
  let placed = 0
  for (const [x, y, z, name] of cfg.blocks || []) {
    const block = registry.blocksByName[name]
    if (!block) fail(`unknown block name ${JSON.stringify(name)} for version ${cfg.version}`)
    await serv.setBlock(serv.overworld, new Vec3(x, y, z), block.defaultState ?? block.minStateId)
    placed++
  }
  emit({ event: 'ready', port, placed, version: registry.version.minecraftVersion })
}

main().catch((err) => fail(err && err.stack ? err.stack : String(err)))
