import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { create, toBinary, type DescMessage, type DescService, type Message, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { buildFileRegistry } from '../src/descriptors/file-registry.js';
import { loadProtoSources } from '../src/descriptors/proto-files.js';

/*
 * The benchmark's proto, loaded at run time with the gateway's own loader (no generated code),
 * and the payloads every case sends and receives. The backend, the direct client and the HTTP
 * load share this module, so both sides of each comparison move the same bytes.
 */

export const benchRoot = path.dirname(fileURLToPath(import.meta.url));
export const benchProtoDir = path.join(benchRoot, 'protos');
export const benchProtoFile = 'bench/v1/bench.proto';
export const benchServiceName = 'bench.v1.BenchService';

export interface BenchProto {
  readonly service: DescService;
  readonly item: DescMessage;
  readonly getItemRequest: DescMessage;
  readonly createItemRequest: DescMessage;
  readonly createItemResponse: DescMessage;
  readonly listItemsRequest: DescMessage;
  readonly listItemsResponse: DescMessage;
  readonly streamItemsRequest: DescMessage;
}

export function loadBenchProto(): BenchProto {
  const registry = buildFileRegistry(loadProtoSources([benchProtoDir], [benchProtoFile]));
  const message = (name: string): DescMessage => {
    const desc = registry.getMessage(`bench.v1.${name}`);
    if (!desc) throw new Error(`${benchProtoFile} has no message ${name}`);
    return desc;
  };
  const service = registry.getService(benchServiceName);
  if (!service) throw new Error(`${benchProtoFile} has no service ${benchServiceName}`);
  return {
    service,
    item: message('Item'),
    getItemRequest: message('GetItemRequest'),
    createItemRequest: message('CreateItemRequest'),
    createItemResponse: message('CreateItemResponse'),
    listItemsRequest: message('ListItemsRequest'),
    listItemsResponse: message('ListItemsResponse'),
    streamItemsRequest: message('StreamItemsRequest'),
  };
}

export function encode(desc: DescMessage, init: Record<string, unknown>): Buffer {
  const bytes = toBinary(desc, create(desc, init as MessageInitShape<DescMessage>) as Message);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A fixed instant, so every run renders the same JSON. */
const updatedAt = timestampFromMs(Date.UTC(2025, 0, 15, 9, 30, 0));

/** The small item of the GET and stream cases (~55 bytes of protobuf), without its id. */
export function smallItem(index: number): Record<string, unknown> {
  return {
    name: `Item ${index}`,
    quantity: BigInt(1000 + index),
    price: 19.99 + index,
    active: index % 2 === 0,
    tags: ['bench', 'small'],
    updatedAt,
  };
}

/** One page of ListItems. */
export function listPage(pageSize: number): Record<string, unknown> {
  const items = Array.from({ length: pageSize }, (_, i) => ({ id: `item-${i}`, ...smallItem(i), description: 'x'.repeat(32) }));
  return { items, nextPageToken: `page-after-${pageSize}` };
}

/** The large-response case's page size: the smallest page whose protobuf reaches `bytes`. */
export function pageSizeFor(proto: BenchProto, bytes = 64 * 1024): number {
  // Items grow by a byte or so as their numbers get longer, so step up from an estimate.
  const perItem = encode(proto.listItemsResponse, listPage(100)).length / 100;
  let size = Math.floor(bytes / perItem);
  while (size > 1 && encode(proto.listItemsResponse, listPage(size - 1)).length >= bytes) size--;
  while (encode(proto.listItemsResponse, listPage(size)).length < bytes) size++;
  return size;
}

/** The JSON body of the POST case, padded to exactly 1 KiB. */
export function createItemBody(): string {
  const item = {
    id: 'item-new',
    name: 'A new catalogue item',
    description: '',
    quantity: '250',
    price: 42.5,
    active: true,
    tags: ['bench', 'post', 'one-kib', 'json', 'body'],
    updatedAt: '2025-01-15T09:30:00Z',
  };
  const padding = 1024 - JSON.stringify(item).length;
  item.description = 'd'.repeat(padding);
  return JSON.stringify(item);
}
