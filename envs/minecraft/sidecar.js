// The Mineflayer sidecar of embodied_mem's Minecraft env: one bot, driven over JSON lines on stdio.
//
// Requests (one JSON object per line on stdin):  {"id": 7, "op": "observe", ...arguments}
// Replies (one per request, on stdout):           {"id": 7, "ok": true, "result": {...}}
//                                              or {"id": 7, "ok": false, "error": "message"}
// Events (unsolicited, on stdout):                {"event": "end" | "kicked" | "death" | "error", ...}
// Everything else a library prints goes to stderr, so stdout carries only protocol lines.
// Requests run one at a time, in order. The process exits when stdin closes (its parent died) or
// after {"op": "quit"}.
//
// Coordinates are Minecraft world coordinates (x east, y up, z south, block units); yaw/pitch are
// Mineflayer's radians (yaw 0 faces -z, increasing counter-clockwise seen from above; pitch > 0
// looks up). The Python side converts them into memory's frame.
'use strict'

console.log = (...args) => process.stderr.write(args.join(' ') + '\n')
console.info = console.log
console.warn = console.log

const readline = require('readline')
// Loaded at start (not on connect), so the sidecar warms up while a server boots.
const mineflayer = require('mineflayer')
const pathfinderPkg = require('mineflayer-pathfinder')
const { Vec3 } = require('vec3')

let bot = null
let ended = false
let odometer = 0 // horizontal distance walked since connect, in blocks
let lastPos = null

function send (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

function sleep (ms) {
  return new Promise(resolve => setTimeout(resolve, ms))
}

function withTimeout (promise, ms, what) {
  let timer
  return Promise.race([
    promise,
    new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)
    })
  ]).finally(() => clearTimeout(timer))
}

function needBot () {
  if (!bot || ended) throw new Error('not connected (send {"op": "connect"} first, or the connection was lost)')
  return bot
}

function num (args, name) {
  const v = args[name]
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`argument ${name} must be a finite number, got ${JSON.stringify(v)}`)
  return v
}

function pos3 (args) {
  return new Vec3(num(args, 'x'), num(args, 'y'), num(args, 'z'))
}

// ------------------------------------------------------------------ sensing
function isSolid (block) {
  return !!block && block.boundingBox === 'block'
}

function isPassable (block) {
  return !!block && block.boundingBox === 'empty' && !/water|lava/.test(block.name)
}

const FACES = [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]]

// A block is seen when a ray from the eyes to the centre of one of its exposed faces hits it first.
function visible (b, eye, radius) {
  const p = b.position
  for (const [dx, dy, dz] of FACES) {
    const n = bot.blockAt(p.offset(dx, dy, dz))
    if (n && n.boundingBox === 'block' && !n.transparent) continue
    const target = new Vec3(p.x + 0.5 + dx * 0.501, p.y + 0.5 + dy * 0.501, p.z + 0.5 + dz * 0.501)
    const dir = target.minus(eye)
    const dist = dir.norm()
    if (dist < 1e-6) return true
    const hit = bot.world.raycast(eye, dir.scaled(1 / dist), Math.min(dist + 0.5, radius + 2))
    if (hit && hit.position.equals(p)) return true
  }
  return false
}

function standable (x, y, z) {
  return isSolid(bot.blockAt(new Vec3(x, y - 1, z))) && isPassable(bot.blockAt(new Vec3(x, y, z))) &&
    isPassable(bot.blockAt(new Vec3(x, y + 1, z)))
}

function observe (args) {
  const b = needBot()
  const radius = args.radius ?? 8
  const below = args.below ?? 3
  const above = args.above ?? 4
  const ignore = new Set(args.ignore ?? [])
  const maxBlocks = args.max_blocks ?? 4000
  const me = b.entity.position
  const feet = me.floored()
  const eye = me.offset(0, b.entity.height ?? 1.62, 0)
  const r2 = radius * radius
  const blocks = []
  const free = []
  const blocked = []
  for (let dx = -radius; dx <= radius; dx++) {
    for (let dz = -radius; dz <= radius; dz++) {
      if (dx * dx + dz * dz > r2) continue
      const x = feet.x + dx
      const z = feet.z + dz
      for (let dy = -below; dy <= above; dy++) {
        const block = b.blockAt(new Vec3(x, feet.y + dy, z))
        if (!block || block.boundingBox !== 'block') continue
        if (ignore.has(block.name) && dy !== -1 && dy !== 0 && dy !== 1) continue
        if (!visible(block, eye, radius)) continue
        if (!ignore.has(block.name) && blocks.length < maxBlocks) blocks.push([x, feet.y + dy, z, block.name])
      }
      // occupancy of this column at the agent's level (a step up or down is walkable)
      let ground = null
      for (const dy of [0, 1, -1]) {
        if (standable(x, feet.y + dy, z)) { ground = feet.y + dy; break }
      }
      if (ground !== null) {
        const floor = b.blockAt(new Vec3(x, ground - 1, z))
        if (floor && visible(floor, eye, radius)) free.push([x, z, ground])
      } else {
        const a = b.blockAt(new Vec3(x, feet.y, z))
        const h = b.blockAt(new Vec3(x, feet.y + 1, z))
        if ((isSolid(a) && visible(a, eye, radius)) || (isSolid(h) && visible(h, eye, radius))) blocked.push([x, z])
      }
    }
  }
  const entities = []
  const er = args.entity_radius ?? radius
  for (const e of Object.values(b.entities)) {
    if (e === b.entity || !e.position) continue
    const d = e.position.distanceTo(me)
    if (d > er) continue
    const centre = e.position.offset(0, (e.height ?? 1) / 2, 0)
    const dir = centre.minus(eye)
    const dist = dir.norm()
    const hit = dist > 1e-6 ? b.world.raycast(eye, dir.scaled(1 / dist), dist) : null
    if (hit) continue // a block is in the way
    let name = e.name || e.type || 'entity'
    if (name === 'item' && typeof e.getDroppedItem === 'function') {
      const item = e.getDroppedItem()
      if (item) name = 'item:' + item.name
    }
    entities.push({ id: e.id, name, type: e.type, username: e.username ?? null, position: [e.position.x, e.position.y, e.position.z] })
  }
  const inventory = {}
  for (const item of b.inventory.items()) inventory[item.name] = (inventory[item.name] ?? 0) + item.count
  const held = b.heldItem ? b.heldItem.name : null
  return {
    position: [me.x, me.y, me.z],
    yaw: b.entity.yaw,
    pitch: b.entity.pitch,
    health: b.health ?? 20,
    food: b.food ?? 20,
    on_ground: !!b.entity.onGround,
    game_mode: b.game.gameMode,
    time: b.time ? b.time.age : null,
    odometer,
    inventory,
    held,
    blocks,
    free,
    blocked,
    entities
  }
}

// ------------------------------------------------------------------ acting
async function connect (args) {
  if (bot && !ended) throw new Error('already connected (send {"op": "disconnect"} first)')
  odometer = 0
  lastPos = null
  const host = args.host ?? '127.0.0.1'
  ended = false
  const me = mineflayer.createBot({
    host,
    port: args.port ?? 25565,
    username: args.username ?? 'embodied_mem',
    version: args.version ?? false,
    auth: args.auth ?? 'offline',
    hideErrors: true,
    viewDistance: args.view_distance ?? 'short', // chunks the server sends around the bot
    checkTimeoutInterval: args.keepalive_ms ?? 30000
  })
  bot = me
  bot.loadPlugin(pathfinderPkg.pathfinder)
  // events of a bot that was since replaced (disconnect + connect) are ignored
  bot.on('end', (reason) => { if (me !== bot) return; ended = true; send({ event: 'end', reason: String(reason ?? '') }) })
  bot.on('kicked', (reason) => { if (me !== bot) return; ended = true; send({ event: 'kicked', reason: typeof reason === 'string' ? reason : JSON.stringify(reason) }) })
  bot.on('error', (err) => { if (me === bot) send({ event: 'error', message: String(err && err.message ? err.message : err) }) })
  bot.on('death', () => { if (me === bot) send({ event: 'death' }) })
  bot.on('physicsTick', () => {
    if (me !== bot) return
    const p = bot.entity && bot.entity.position
    if (!p) return
    if (lastPos) {
      const d = Math.hypot(p.x - lastPos.x, p.z - lastPos.z)
      if (d < 5) odometer += d // a larger jump is a teleport, not walking
    }
    lastPos = p.clone()
  })
  await withTimeout(new Promise((resolve, reject) => {
    bot.once('spawn', resolve)
    bot.once('end', (r) => reject(new Error(`connection ended before spawn: ${r}`)))
    bot.once('kicked', (r) => reject(new Error(`kicked before spawn: ${typeof r === 'string' ? r : JSON.stringify(r)}`)))
    bot.once('error', reject)
  }), args.timeout_ms ?? 20000, 'connect')
  // wait for the chunk under the bot, so the first observation sees the ground
  await withTimeout(bot.waitForChunksToLoad(), args.timeout_ms ?? 20000, 'waiting for chunks')
  const moves = new pathfinderPkg.Movements(bot)
  moves.canDig = !!args.can_dig
  moves.allow1by1towers = false
  moves.allowSprinting = args.sprint ?? true
  bot.pathfinder.setMovements(moves)
  bot.pathfinder.thinkTimeout = args.think_timeout_ms ?? 2000
  return { username: bot.username, version: bot.version, position: [bot.entity.position.x, bot.entity.position.y, bot.entity.position.z] }
}

async function disconnect (args) {
  if (!bot) return { disconnected: false }
  const old = bot
  bot = null
  ended = true
  if (old.pathfinder) old.pathfinder.stop()
  await withTimeout(new Promise((resolve) => {
    old.once('end', resolve)
    old.quit()
  }), args.timeout_ms ?? 5000, 'disconnect').catch(() => old.end())
  return { disconnected: true }
}

async function moveTo (args) {
  const b = needBot()
  const { goals } = pathfinderPkg
  const range = args.range ?? 0
  let goal
  if (args.y === undefined || args.y === null) {
    // no height given: any height at this x, z (within range)
    const x = num(args, 'x')
    const z = num(args, 'z')
    goal = range > 0 ? new goals.GoalNearXZ(x, z, range) : new goals.GoalXZ(Math.floor(x), Math.floor(z))
  } else {
    const p = pos3(args)
    goal = range > 0 ? new goals.GoalNear(p.x, p.y, p.z, range) : new goals.GoalBlock(Math.floor(p.x), Math.floor(p.y), Math.floor(p.z))
  }
  const start = b.entity.position.clone()
  let reached = true
  let error = null
  try {
    await withTimeout(b.pathfinder.goto(goal), args.timeout_ms ?? 15000, 'move_to')
  } catch (err) {
    reached = false
    error = String(err && err.message ? err.message : err)
    b.pathfinder.stop()
    b.clearControlStates()
  }
  const end = b.entity.position
  return { reached, error, from: [start.x, start.y, start.z], position: [end.x, end.y, end.z] }
}

async function dig (args) {
  const b = needBot()
  const p = pos3(args)
  const block = b.blockAt(p)
  if (!block) throw new Error(`no loaded block at ${p}`)
  if (block.boundingBox === 'empty' && block.name === 'air') return { dug: false, block: 'air', reason: 'nothing to dig' }
  if (!b.canDigBlock(block)) return { dug: false, block: block.name, reason: 'out of reach or not diggable' }
  const before = countAll(b)
  await withTimeout(b.dig(block, true), args.timeout_ms ?? 15000, 'dig')
  let collected = 0
  if (args.collect !== false) collected = await collectDrops(b, p, before, args.collect_timeout_ms ?? 3000)
  return { dug: true, block: block.name, collected }
}

function countAll (b) {
  return b.inventory.items().reduce((n, it) => n + it.count, 0)
}

// Walk onto items dropped near `where` until the inventory grows or the time is up.
async function collectDrops (b, where, before, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  const { goals } = pathfinderPkg
  await sleep(600) // items are picked up by the server only after their pickup delay (500 ms)
  while (Date.now() < deadline) {
    if (countAll(b) > before) break
    const drops = Object.values(b.entities).filter(e => e.name === 'item' && e.position.distanceTo(where) < 5)
    if (!drops.length) { await sleep(100); continue }
    drops.sort((a, c) => a.position.distanceTo(b.entity.position) - c.position.distanceTo(b.entity.position))
    const d = drops[0].position
    try {
      await withTimeout(b.pathfinder.goto(new goals.GoalNear(d.x, d.y, d.z, 0.5)), Math.max(200, deadline - Date.now()), 'collect')
    } catch (err) {
      b.pathfinder.stop()
    }
    await sleep(150)
  }
  b.clearControlStates()
  return Math.max(0, countAll(b) - before)
}

async function place (args) {
  const b = needBot()
  const p = pos3(args)
  const item = b.inventory.items().find(it => it.name === args.item)
  if (!item) throw new Error(`no ${args.item} in the inventory`)
  await b.equip(item, 'hand')
  // place against the first solid neighbour of the target cell
  for (const [dx, dy, dz] of [[0, -1, 0], [1, 0, 0], [-1, 0, 0], [0, 0, 1], [0, 0, -1], [0, 1, 0]]) {
    const ref = b.blockAt(p.offset(dx, dy, dz))
    if (ref && ref.boundingBox === 'block') {
      await withTimeout(b.placeBlock(ref, new Vec3(-dx, -dy, -dz)), args.timeout_ms ?? 5000, 'place')
      return { placed: true, item: args.item }
    }
  }
  throw new Error(`nothing solid next to ${p} to place ${args.item} against`)
}

async function craft (args) {
  const b = needBot()
  const mcData = b.registry
  const item = mcData.itemsByName[args.item]
  if (!item) throw new Error(`unknown item ${JSON.stringify(args.item)}`)
  let table = null
  if (args.table) {
    table = b.findBlock({ matching: mcData.blocksByName.crafting_table.id, maxDistance: 4 })
    if (!table) throw new Error('no crafting table within 4 blocks')
  }
  const recipes = b.recipesFor(item.id, null, 1, table)
  if (!recipes.length) return { crafted: 0, reason: `no recipe for ${args.item} with this inventory${table ? '' : ' (without a table)'}` }
  await withTimeout(b.craft(recipes[0], args.count ?? 1, table), args.timeout_ms ?? 10000, 'craft')
  return { crafted: args.count ?? 1, item: args.item }
}

async function equip (args) {
  const b = needBot()
  const item = b.inventory.items().find(it => it.name === args.item)
  if (!item) throw new Error(`no ${args.item} in the inventory`)
  await b.equip(item, args.destination ?? 'hand')
  return { equipped: args.item }
}

async function attack (args) {
  const b = needBot()
  const e = b.entities[args.entity_id]
  if (!e) return { attacked: false, reason: `no entity ${args.entity_id}` }
  if (e.position.distanceTo(b.entity.position) > 3.5) return { attacked: false, reason: 'out of reach' }
  b.attack(e)
  return { attacked: true }
}

async function look (args) {
  const b = needBot()
  if (args.x !== undefined) await b.lookAt(pos3(args), true)
  else await b.look(num(args, 'yaw'), num(args, 'pitch'), true)
  return { yaw: b.entity.yaw, pitch: b.entity.pitch }
}

const CONTROLS = ['forward', 'back', 'left', 'right', 'jump', 'sprint', 'sneak']

async function control (args) {
  const b = needBot()
  const states = args.controls ?? {}
  for (const k of Object.keys(states)) if (!CONTROLS.includes(k)) throw new Error(`unknown control ${k}; valid: ${CONTROLS.join(', ')}`)
  if (args.dyaw || args.dpitch) {
    const pitch = Math.max(-Math.PI / 2, Math.min(Math.PI / 2, b.entity.pitch + (args.dpitch ?? 0)))
    await b.look(b.entity.yaw + (args.dyaw ?? 0), pitch, true)
  }
  for (const k of CONTROLS) b.setControlState(k, !!states[k])
  const ticks = args.ticks ?? 4
  for (let i = 0; i < ticks; i++) await b.waitForTicks(1)
  b.clearControlStates()
  let dug = null
  if (args.attack) {
    const target = b.blockAtCursor(4)
    if (target && b.canDigBlock(target)) {
      await withTimeout(b.dig(target, true), 15000, 'dig')
      dug = target.name
    }
  }
  const p = b.entity.position
  return { position: [p.x, p.y, p.z], yaw: b.entity.yaw, pitch: b.entity.pitch, dug: dug !== null, block: dug }
}

async function chat (args) {
  const b = needBot()
  if (typeof args.text !== 'string' || !args.text) throw new Error('argument text must be a non-empty string')
  b.chat(args.text)
  return { sent: args.text }
}

async function handle (req) {
  switch (req.op) {
    case 'ping': return { pong: true, connected: !!bot && !ended }
    case 'connect': return connect(req)
    case 'disconnect': return disconnect(req)
    case 'observe': return observe(req)
    case 'move_to': return moveTo(req)
    case 'dig': return dig(req)
    case 'place': return place(req)
    case 'craft': return craft(req)
    case 'equip': return equip(req)
    case 'attack': return attack(req)
    case 'look': return look(req)
    case 'control': return control(req)
    case 'chat': return chat(req)
    case 'quit':
      if (bot && !ended) bot.quit()
      setTimeout(() => process.exit(0), 100)
      return { bye: true }
    default: throw new Error(`unknown op ${JSON.stringify(req.op)}`)
  }
}

const rl = readline.createInterface({ input: process.stdin })
let chain = Promise.resolve()
rl.on('line', (line) => {
  if (!line.trim()) return
  let req
  try {
    req = JSON.parse(line)
  } catch (err) {
    send({ id: null, ok: false, error: `bad JSON: ${err.message}` })
    return
  }
  chain = chain.then(async () => {
    try {
      send({ id: req.id, ok: true, result: await handle(req) })
    } catch (err) {
      send({ id: req.id, ok: false, error: String(err && err.message ? err.message : err) })
    }
  })
})
rl.on('close', () => {
  if (bot && !ended) bot.quit()
  setTimeout(() => process.exit(0), 100)
})
process.on('uncaughtException', (err) => send({ event: 'error', message: 'uncaught: ' + (err && err.stack ? err.stack : String(err)) }))
process.on('unhandledRejection', (err) => send({ event: 'error', message: 'unhandled rejection: ' + (err && err.stack ? err.stack : String(err)) }))
