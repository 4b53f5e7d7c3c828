import { decodeMessage, encodeMessage, MaxLengthError, MaxSizeError, message, streamMessage } from 'protons-runtime';
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc';
export var PieceRequest;
(function (PieceRequest) {
    let _codec;
    PieceRequest.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.digest != null && obj.digest !== '')) {
                    w.uint32(10);
                    w.string(obj.digest);
                }
                if ((obj.index != null && obj.index !== 0)) {
                    w.uint32(16);
                    w.uint32(obj.index);
                }
                if ((obj.pieceSize != null && obj.pieceSize !== 0)) {
                    w.uint32(24);
                    w.uint32(obj.pieceSize);
                }
                if ((obj.waitMs != null && obj.waitMs !== 0)) {
                    w.uint32(32);
                    w.uint32(obj.waitMs);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    digest: '',
                    index: 0,
                    pieceSize: 0,
                    waitMs: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.digest = reader.string();
                            break;
                        }
                        case 2: {
                            obj.index = reader.uint32();
                            break;
                        }
                        case 3: {
                            obj.pieceSize = reader.uint32();
                            break;
                        }
                        case 4: {
                            obj.waitMs = reader.uint32();
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.digest`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.index`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.pieceSize`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 4: {
                            yield {
                                field: `${prefix}.waitMs`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, PieceRequest.codec());
    }
    PieceRequest.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, PieceRequest.codec(), opts);
    }
    PieceRequest.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, PieceRequest.codec(), opts);
    }
    PieceRequest.stream = stream;
})(PieceRequest || (PieceRequest = {}));
export var PieceResponse;
(function (PieceResponse) {
    let _codec;
    PieceResponse.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.status != null && obj.status !== 0)) {
                    w.uint32(8);
                    w.uint32(obj.status);
                }
                if ((obj.length != null && obj.length !== 0)) {
                    w.uint32(16);
                    w.uint32(obj.length);
                }
                if ((obj.sha256 != null && obj.sha256.byteLength > 0)) {
                    w.uint32(26);
                    w.bytes(obj.sha256);
                }
                if ((obj.message != null && obj.message !== '')) {
                    w.uint32(34);
                    w.string(obj.message);
                }
                if ((obj.blobSize != null && obj.blobSize !== 0)) {
                    w.uint32(40);
                    w.uint64Number(obj.blobSize);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    status: 0,
                    length: 0,
                    sha256: uint8ArrayAlloc(0),
                    message: '',
                    blobSize: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.status = reader.uint32();
                            break;
                        }
                        case 2: {
                            obj.length = reader.uint32();
                            break;
                        }
                        case 3: {
                            obj.sha256 = reader.bytes();
                            break;
                        }
                        case 4: {
                            obj.message = reader.string();
                            break;
                        }
                        case 5: {
                            obj.blobSize = reader.uint64Number();
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.status`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.length`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.sha256`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 4: {
                            yield {
                                field: `${prefix}.message`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 5: {
                            yield {
                                field: `${prefix}.blobSize`,
                                value: reader.uint64Number()
                            };
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, PieceResponse.codec());
    }
    PieceResponse.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, PieceResponse.codec(), opts);
    }
    PieceResponse.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, PieceResponse.codec(), opts);
    }
    PieceResponse.stream = stream;
})(PieceResponse || (PieceResponse = {}));
export var PeerMessage;
(function (PeerMessage) {
    let _codec;
    PeerMessage.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if (obj.register != null) {
                    w.uint32(10);
                    Register.codec().encode(obj.register, w);
                }
                if (obj.openTask != null) {
                    w.uint32(18);
                    OpenTask.codec().encode(obj.openTask, w);
                }
                if (obj.report != null) {
                    w.uint32(26);
                    PieceReport.codec().encode(obj.report, w);
                }
                if (obj.taskDone != null) {
                    w.uint32(34);
                    TaskDone.codec().encode(obj.taskDone, w);
                }
                if (obj.preheatDone != null) {
                    w.uint32(42);
                    PreheatDone.codec().encode(obj.preheatDone, w);
                }
                if (obj.dropped != null) {
                    w.uint32(50);
                    Dropped.codec().encode(obj.dropped, w);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {};
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.register = Register.codec().decode(reader, reader.uint32(), {
                                limits: opts.limits?.register
                            });
                            break;
                        }
                        case 2: {
                            obj.openTask = OpenTask.codec().decode(reader, reader.uint32(), {
                                limits: opts.limits?.openTask
                            });
                            break;
                        }
                        case 3: {
                            obj.report = PieceReport.codec().decode(reader, reader.uint32(), {
                                limits: opts.limits?.report
                            });
                            break;
                        }
                        case 4: {
                            obj.taskDone = TaskDone.codec().decode(reader, reader.uint32(), {
                                limits: opts.limits?.taskDone
                            });
                            break;
                        }
                        case 5: {
                            obj.preheatDone = PreheatDone.codec().decode(reader, reader.uint32(), {
                                limits: opts.limits?.preheatDone
                            });
                            break;
                        }
                        case 6: {
                            obj.dropped = Dropped.codec().decode(reader, reader.uint32(), {
                                limits: opts.limits?.dropped
                            });
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield* Register.codec().stream(reader, reader.uint32(), `${prefix}.register`, {
                                limits: opts.limits?.register
                            });
                            break;
                        }
                        case 2: {
                            yield* OpenTask.codec().stream(reader, reader.uint32(), `${prefix}.openTask`, {
                                limits: opts.limits?.openTask
                            });
                            break;
                        }
                        case 3: {
                            yield* PieceReport.codec().stream(reader, reader.uint32(), `${prefix}.report`, {
                                limits: opts.limits?.report
                            });
                            break;
                        }
                        case 4: {
                            yield* TaskDone.codec().stream(reader, reader.uint32(), `${prefix}.taskDone`, {
                                limits: opts.limits?.taskDone
                            });
                            break;
                        }
                        case 5: {
                            yield* PreheatDone.codec().stream(reader, reader.uint32(), `${prefix}.preheatDone`, {
                                limits: opts.limits?.preheatDone
                            });
                            break;
                        }
                        case 6: {
                            yield* Dropped.codec().stream(reader, reader.uint32(), `${prefix}.dropped`, {
                                limits: opts.limits?.dropped
                            });
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, PeerMessage.codec());
    }
    PeerMessage.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, PeerMessage.codec(), opts);
    }
    PeerMessage.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, PeerMessage.codec(), opts);
    }
    PeerMessage.stream = stream;
})(PeerMessage || (PeerMessage = {}));
export var Dropped;
(function (Dropped) {
    let _codec;
    Dropped.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if (obj.digests != null && obj.digests.length > 0) {
                    for (const value of obj.digests) {
                        w.uint32(10);
                        w.string(value);
                    }
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    digests: []
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            if (opts.limits?.digests != null && obj.digests.length === opts.limits.digests) {
                                throw new MaxLengthError('Decode error - repeated field "digests" had too many elements');
                            }
                            obj.digests.push(reader.string());
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const obj = {
                    digests: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            if (opts.limits?.digests != null && obj.digests === opts.limits.digests) {
                                throw new MaxLengthError('Streaming decode error - repeated field "digests" had too many elements');
                            }
                            yield {
                                field: `${prefix}.digests[]`,
                                index: obj.digests,
                                value: reader.string()
                            };
                            obj.digests++;
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, Dropped.codec());
    }
    Dropped.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, Dropped.codec(), opts);
    }
    Dropped.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, Dropped.codec(), opts);
    }
    Dropped.stream = stream;
})(Dropped || (Dropped = {}));
export var Register;
(function (Register) {
    let Register$labelsEntry;
    (function (Register$labelsEntry) {
        let _codec;
        Register$labelsEntry.codec = () => {
            if (_codec == null) {
                _codec = message((obj, w, opts = {}) => {
                    if (opts.lengthDelimited !== false) {
                        w.fork();
                    }
                    if ((obj.key != null && obj.key !== '')) {
                        w.uint32(10);
                        w.string(obj.key);
                    }
                    if ((obj.value != null && obj.value !== '')) {
                        w.uint32(18);
                        w.string(obj.value);
                    }
                    if (opts.lengthDelimited !== false) {
                        w.ldelim();
                    }
                }, (reader, length, opts = {}) => {
                    const obj = {
                        key: '',
                        value: ''
                    };
                    const end = length == null ? reader.len : reader.pos + length;
                    while (reader.pos < end) {
                        const tag = reader.uint32();
                        switch (tag >>> 3) {
                            case 1: {
                                obj.key = reader.string();
                                break;
                            }
                            case 2: {
                                obj.value = reader.string();
                                break;
                            }
                            default: {
                                reader.skipType(tag & 7);
                                break;
                            }
                        }
                    }
                    return obj;
                }, function* (reader, length, prefix, opts = {}) {
                    const end = length == null ? reader.len : reader.pos + length;
                    while (reader.pos < end) {
                        const tag = reader.uint32();
                        switch (tag >>> 3) {
                            case 1: {
                                yield {
                                    field: `${prefix}.key`,
                                    value: reader.string()
                                };
                                break;
                            }
                            case 2: {
                                yield {
                                    field: `${prefix}.value`,
                                    value: reader.string()
                                };
                                break;
                            }
                            default: {
                                reader.skipType(tag & 7);
                                break;
                            }
                        }
                    }
                });
            }
            return _codec;
        };
        function encode(obj) {
            return encodeMessage(obj, Register$labelsEntry.codec());
        }
        Register$labelsEntry.encode = encode;
        function decode(buf, opts) {
            return decodeMessage(buf, Register$labelsEntry.codec(), opts);
        }
        Register$labelsEntry.decode = decode;
        function stream(buf, opts) {
            return streamMessage(buf, Register$labelsEntry.codec(), opts);
        }
        Register$labelsEntry.stream = stream;
    })(Register$labelsEntry = Register.Register$labelsEntry || (Register.Register$labelsEntry = {}));
    let _codec;
    Register.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if (obj.addrs != null && obj.addrs.length > 0) {
                    for (const value of obj.addrs) {
                        w.uint32(10);
                        w.string(value);
                    }
                }
                if (obj.labels != null && obj.labels.size > 0) {
                    for (const [key, value] of obj.labels.entries()) {
                        w.uint32(18);
                        Register.Register$labelsEntry.codec().encode({ key, value }, w);
                    }
                }
                if ((obj.uploadSlots != null && obj.uploadSlots !== 0)) {
                    w.uint32(24);
                    w.uint32(obj.uploadSlots);
                }
                if ((obj.uploadRate != null && obj.uploadRate !== 0)) {
                    w.uint32(32);
                    w.uint64Number(obj.uploadRate);
                }
                if ((obj.downloadRate != null && obj.downloadRate !== 0)) {
                    w.uint32(40);
                    w.uint64Number(obj.downloadRate);
                }
                if (obj.holdings != null && obj.holdings.length > 0) {
                    for (const value of obj.holdings) {
                        w.uint32(50);
                        Holding.codec().encode(value, w);
                    }
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    addrs: [],
                    labels: new Map(),
                    uploadSlots: 0,
                    uploadRate: 0,
                    downloadRate: 0,
                    holdings: []
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements');
                            }
                            obj.addrs.push(reader.string());
                            break;
                        }
                        case 2: {
                            if (opts.limits?.labels != null && obj.labels.size === opts.limits.labels) {
                                throw new MaxSizeError('Decode error - map field "labels" had too many elements');
                            }
                            const entry = Register.Register$labelsEntry.codec().decode(reader, reader.uint32(), {
                                limits: {
                                    value: opts.limits?.labels$value
                                }
                            });
                            obj.labels.set(entry.key, entry.value);
                            break;
                        }
                        case 3: {
                            obj.uploadSlots = reader.uint32();
                            break;
                        }
                        case 4: {
                            obj.uploadRate = reader.uint64Number();
                            break;
                        }
                        case 5: {
                            obj.downloadRate = reader.uint64Number();
                            break;
                        }
                        case 6: {
                            if (opts.limits?.holdings != null && obj.holdings.length === opts.limits.holdings) {
                                throw new MaxLengthError('Decode error - repeated field "holdings" had too many elements');
                            }
                            obj.holdings.push(Holding.codec().decode(reader, reader.uint32(), {
                                limits: opts.limits?.holdings$
                            }));
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const obj = {
                    addrs: 0,
                    labels: 0,
                    holdings: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            if (opts.limits?.addrs != null && obj.addrs === opts.limits.addrs) {
                                throw new MaxLengthError('Streaming decode error - repeated field "addrs" had too many elements');
                            }
                            yield {
                                field: `${prefix}.addrs[]`,
                                index: obj.addrs,
                                value: reader.string()
                            };
                            obj.addrs++;
                            break;
                        }
                        case 2: {
                            if (opts.limits?.labels != null && obj.labels === opts.limits.labels) {
                                throw new MaxLengthError('Decode error - map field "labels" had too many elements');
                            }
                            yield* Register.Register$labelsEntry.codec().stream(reader, reader.uint32(), `${prefix}.labels{}`, {
                                limits: {
                                    value: opts.limits?.labels$value
                                }
                            });
                            obj.labels++;
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.uploadSlots`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 4: {
                            yield {
                                field: `${prefix}.uploadRate`,
                                value: reader.uint64Number()
                            };
                            break;
                        }
                        case 5: {
                            yield {
                                field: `${prefix}.downloadRate`,
                                value: reader.uint64Number()
                            };
                            break;
                        }
                        case 6: {
                            if (opts.limits?.holdings != null && obj.holdings === opts.limits.holdings) {
                                throw new MaxLengthError('Streaming decode error - repeated field "holdings" had too many elements');
                            }
                            for (const evt of Holding.codec().stream(reader, reader.uint32(), `${prefix}.holdings[]`, {
                                limits: opts.limits?.holdings$
                            })) {
                                yield {
                                    ...evt,
                                    index: obj.holdings
                                };
                            }
                            obj.holdings++;
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, Register.codec());
    }
    Register.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, Register.codec(), opts);
    }
    Register.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, Register.codec(), opts);
    }
    Register.stream = stream;
})(Register || (Register = {}));
export var Holding;
(function (Holding) {
    let _codec;
    Holding.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.digest != null && obj.digest !== '')) {
                    w.uint32(10);
                    w.string(obj.digest);
                }
                if ((obj.size != null && obj.size !== 0)) {
                    w.uint32(16);
                    w.uint64Number(obj.size);
                }
                if ((obj.pieceSize != null && obj.pieceSize !== 0)) {
                    w.uint32(24);
                    w.uint32(obj.pieceSize);
                }
                if ((obj.bitfield != null && obj.bitfield.byteLength > 0)) {
                    w.uint32(34);
                    w.bytes(obj.bitfield);
                }
                if ((obj.complete != null && obj.complete !== false)) {
                    w.uint32(40);
                    w.bool(obj.complete);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    digest: '',
                    size: 0,
                    pieceSize: 0,
                    bitfield: uint8ArrayAlloc(0),
                    complete: false
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.digest = reader.string();
                            break;
                        }
                        case 2: {
                            obj.size = reader.uint64Number();
                            break;
                        }
                        case 3: {
                            obj.pieceSize = reader.uint32();
                            break;
                        }
                        case 4: {
                            obj.bitfield = reader.bytes();
                            break;
                        }
                        case 5: {
                            obj.complete = reader.bool();
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.digest`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.size`,
                                value: reader.uint64Number()
                            };
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.pieceSize`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 4: {
                            yield {
                                field: `${prefix}.bitfield`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 5: {
                            yield {
                                field: `${prefix}.complete`,
                                value: reader.bool()
                            };
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, Holding.codec());
    }
    Holding.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, Holding.codec(), opts);
    }
    Holding.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, Holding.codec(), opts);
    }
    Holding.stream = stream;
})(Holding || (Holding = {}));
export var OpenTask;
(function (OpenTask) {
    let _codec;
    OpenTask.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.digest != null && obj.digest !== '')) {
                    w.uint32(10);
                    w.string(obj.digest);
                }
                if ((obj.size != null && obj.size !== 0)) {
                    w.uint32(16);
                    w.uint64Number(obj.size);
                }
                if ((obj.bitfield != null && obj.bitfield.byteLength > 0)) {
                    w.uint32(26);
                    w.bytes(obj.bitfield);
                }
                if ((obj.want != null && obj.want !== 0)) {
                    w.uint32(32);
                    w.uint32(obj.want);
                }
                if (obj.reading != null) {
                    w.uint32(40);
                    w.uint32(obj.reading);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    digest: '',
                    size: 0,
                    bitfield: uint8ArrayAlloc(0),
                    want: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.digest = reader.string();
                            break;
                        }
                        case 2: {
                            obj.size = reader.uint64Number();
                            break;
                        }
                        case 3: {
                            obj.bitfield = reader.bytes();
                            break;
                        }
                        case 4: {
                            obj.want = reader.uint32();
                            break;
                        }
                        case 5: {
                            obj.reading = reader.uint32();
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.digest`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.size`,
                                value: reader.uint64Number()
                            };
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.bitfield`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 4: {
                            yield {
                                field: `${prefix}.want`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 5: {
                            yield {
                                field: `${prefix}.reading`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, OpenTask.codec());
    }
    OpenTask.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, OpenTask.codec(), opts);
    }
    OpenTask.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, OpenTask.codec(), opts);
    }
    OpenTask.stream = stream;
})(OpenTask || (OpenTask = {}));
export var PieceReport;
(function (PieceReport) {
    let _codec;
    PieceReport.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.digest != null && obj.digest !== '')) {
                    w.uint32(10);
                    w.string(obj.digest);
                }
                if (obj.done != null && obj.done.length > 0) {
                    for (const value of obj.done) {
                        w.uint32(18);
                        PieceDone.codec().encode(value, w);
                    }
                }
                if (obj.failed != null && obj.failed.length > 0) {
                    for (const value of obj.failed) {
                        w.uint32(26);
                        PieceFailed.codec().encode(value, w);
                    }
                }
                if ((obj.want != null && obj.want !== 0)) {
                    w.uint32(32);
                    w.uint32(obj.want);
                }
                if (obj.reading != null) {
                    w.uint32(40);
                    w.uint32(obj.reading);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    digest: '',
                    done: [],
                    failed: [],
                    want: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.digest = reader.string();
                            break;
                        }
                        case 2: {
                            if (opts.limits?.done != null && obj.done.length === opts.limits.done) {
                                throw new MaxLengthError('Decode error - repeated field "done" had too many elements');
                            }
                            obj.done.push(PieceDone.codec().decode(reader, reader.uint32(), {
                                limits: opts.limits?.done$
                            }));
                            break;
                        }
                        case 3: {
                            if (opts.limits?.failed != null && obj.failed.length === opts.limits.failed) {
                                throw new MaxLengthError('Decode error - repeated field "failed" had too many elements');
                            }
                            obj.failed.push(PieceFailed.codec().decode(reader, reader.uint32(), {
                                limits: opts.limits?.failed$
                            }));
                            break;
                        }
                        case 4: {
                            obj.want = reader.uint32();
                            break;
                        }
                        case 5: {
                            obj.reading = reader.uint32();
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const obj = {
                    done: 0,
                    failed: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.digest`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 2: {
                            if (opts.limits?.done != null && obj.done === opts.limits.done) {
                                throw new MaxLengthError('Streaming decode error - repeated field "done" had too many elements');
                            }
                            for (const evt of PieceDone.codec().stream(reader, reader.uint32(), `${prefix}.done[]`, {
                                limits: opts.limits?.done$
                            })) {
                                yield {
                                    ...evt,
                                    index: obj.done
                                };
                            }
                            obj.done++;
                            break;
                        }
                        case 3: {
                            if (opts.limits?.failed != null && obj.failed === opts.limits.failed) {
                                throw new MaxLengthError('Streaming decode error - repeated field "failed" had too many elements');
                            }
                            for (const evt of PieceFailed.codec().stream(reader, reader.uint32(), `${prefix}.failed[]`, {
                                limits: opts.limits?.failed$
                            })) {
                                yield {
                                    ...evt,
                                    index: obj.failed
                                };
                            }
                            obj.failed++;
                            break;
                        }
                        case 4: {
                            yield {
                                field: `${prefix}.want`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 5: {
                            yield {
                                field: `${prefix}.reading`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, PieceReport.codec());
    }
    PieceReport.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, PieceReport.codec(), opts);
    }
    PieceReport.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, PieceReport.codec(), opts);
    }
    PieceReport.stream = stream;
})(PieceReport || (PieceReport = {}));
export var PieceDone;
(function (PieceDone) {
    let _codec;
    PieceDone.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.index != null && obj.index !== 0)) {
                    w.uint32(8);
                    w.uint32(obj.index);
                }
                if ((obj.sha256 != null && obj.sha256.byteLength > 0)) {
                    w.uint32(18);
                    w.bytes(obj.sha256);
                }
                if ((obj.parent != null && obj.parent !== '')) {
                    w.uint32(26);
                    w.string(obj.parent);
                }
                if ((obj.millis != null && obj.millis !== 0)) {
                    w.uint32(32);
                    w.uint32(obj.millis);
                }
                if ((obj.length != null && obj.length !== 0)) {
                    w.uint32(40);
                    w.uint32(obj.length);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    index: 0,
                    sha256: uint8ArrayAlloc(0),
                    parent: '',
                    millis: 0,
                    length: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.index = reader.uint32();
                            break;
                        }
                        case 2: {
                            obj.sha256 = reader.bytes();
                            break;
                        }
                        case 3: {
                            obj.parent = reader.string();
                            break;
                        }
                        case 4: {
                            obj.millis = reader.uint32();
                            break;
                        }
                        case 5: {
                            obj.length = reader.uint32();
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.index`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.sha256`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.parent`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 4: {
                            yield {
                                field: `${prefix}.millis`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 5: {
                            yield {
                                field: `${prefix}.length`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, PieceDone.codec());
    }
    PieceDone.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, PieceDone.codec(), opts);
    }
    PieceDone.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, PieceDone.codec(), opts);
    }
    PieceDone.stream = stream;
})(PieceDone || (PieceDone = {}));
export var PieceFailed;
(function (PieceFailed) {
    let _codec;
    PieceFailed.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.index != null && obj.index !== 0)) {
                    w.uint32(8);
                    w.uint32(obj.index);
                }
                if ((obj.parent != null && obj.parent !== '')) {
                    w.uint32(18);
                    w.string(obj.parent);
                }
                if ((obj.reason != null && obj.reason !== 0)) {
                    w.uint32(24);
                    w.uint32(obj.reason);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    index: 0,
                    parent: '',
                    reason: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.index = reader.uint32();
                            break;
                        }
                        case 2: {
                            obj.parent = reader.string();
                            break;
                        }
                        case 3: {
                            obj.reason = reader.uint32();
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.index`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.parent`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.reason`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, PieceFailed.codec());
    }
    PieceFailed.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, PieceFailed.codec(), opts);
    }
    PieceFailed.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, PieceFailed.codec(), opts);
    }
    PieceFailed.stream = stream;
})(PieceFailed || (PieceFailed = {}));
export var TaskDone;
(function (TaskDone) {
    let _codec;
    TaskDone.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.digest != null && obj.digest !== '')) {
                    w.uint32(10);
                    w.string(obj.digest);
                }
                if ((obj.ok != null && obj.ok !== false)) {
                    w.uint32(16);
                    w.bool(obj.ok);
                }
                if ((obj.error != null && obj.error !== '')) {
                    w.uint32(26);
                    w.string(obj.error);
                }
                if ((obj.digestMismatch != null && obj.digestMismatch !== false)) {
                    w.uint32(32);
                    w.bool(obj.digestMismatch);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    digest: '',
                    ok: false,
                    error: '',
                    digestMismatch: false
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.digest = reader.string();
                            break;
                        }
                        case 2: {
                            obj.ok = reader.bool();
                            break;
                        }
                        case 3: {
                            obj.error = reader.string();
                            break;
                        }
                        case 4: {
                            obj.digestMismatch = reader.bool();
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.digest`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.ok`,
                                value: reader.bool()
                            };
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.error`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 4: {
                            yield {
                                field: `${prefix}.digestMismatch`,
                                value: reader.bool()
                            };
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, TaskDone.codec());
    }
    TaskDone.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, TaskDone.codec(), opts);
    }
    TaskDone.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, TaskDone.codec(), opts);
    }
    TaskDone.stream = stream;
})(TaskDone || (TaskDone = {}));
export var PreheatDone;
(function (PreheatDone) {
    let _codec;
    PreheatDone.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.job != null && obj.job !== '')) {
                    w.uint32(10);
                    w.string(obj.job);
                }
                if ((obj.digest != null && obj.digest !== '')) {
                    w.uint32(18);
                    w.string(obj.digest);
                }
                if ((obj.ok != null && obj.ok !== false)) {
                    w.uint32(24);
                    w.bool(obj.ok);
                }
                if ((obj.error != null && obj.error !== '')) {
                    w.uint32(34);
                    w.string(obj.error);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    job: '',
                    digest: '',
                    ok: false,
                    error: ''
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.job = reader.string();
                            break;
                        }
                        case 2: {
                            obj.digest = reader.string();
                            break;
                        }
                        case 3: {
                            obj.ok = reader.bool();
                            break;
                        }
                        case 4: {
                            obj.error = reader.string();
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.job`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.digest`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.ok`,
                                value: reader.bool()
                            };
                            break;
                        }
                        case 4: {
                            yield {
                                field: `${prefix}.error`,
                                value: reader.string()
                            };
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, PreheatDone.codec());
    }
    PreheatDone.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, PreheatDone.codec(), opts);
    }
    PreheatDone.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, PreheatDone.codec(), opts);
    }
    PreheatDone.stream = stream;
})(PreheatDone || (PreheatDone = {}));
export var SchedulerMessage;
(function (SchedulerMessage) {
    let _codec;
    SchedulerMessage.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if (obj.taskInfo != null) {
                    w.uint32(10);
                    TaskInfo.codec().encode(obj.taskInfo, w);
                }
                if (obj.assignments != null) {
                    w.uint32(18);
                    Assignments.codec().encode(obj.assignments, w);
                }
                if (obj.reset != null) {
                    w.uint32(26);
                    Reset.codec().encode(obj.reset, w);
                }
                if (obj.swarm != null) {
                    w.uint32(34);
                    Swarm.codec().encode(obj.swarm, w);
                }
                if (obj.preheat != null) {
                    w.uint32(42);
                    Preheat.codec().encode(obj.preheat, w);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {};
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.taskInfo = TaskInfo.codec().decode(reader, reader.uint32(), {
                                limits: opts.limits?.taskInfo
                            });
                            break;
                        }
                        case 2: {
                            obj.assignments = Assignments.codec().decode(reader, reader.uint32(), {
                                limits: opts.limits?.assignments
                            });
                            break;
                        }
                        case 3: {
                            obj.reset = Reset.codec().decode(reader, reader.uint32(), {
                                limits: opts.limits?.reset
                            });
                            break;
                        }
                        case 4: {
                            obj.swarm = Swarm.codec().decode(reader, reader.uint32(), {
                                limits: opts.limits?.swarm
                            });
                            break;
                        }
                        case 5: {
                            obj.preheat = Preheat.codec().decode(reader, reader.uint32(), {
                                limits: opts.limits?.preheat
                            });
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield* TaskInfo.codec().stream(reader, reader.uint32(), `${prefix}.taskInfo`, {
                                limits: opts.limits?.taskInfo
                            });
                            break;
                        }
                        case 2: {
                            yield* Assignments.codec().stream(reader, reader.uint32(), `${prefix}.assignments`, {
                                limits: opts.limits?.assignments
                            });
                            break;
                        }
                        case 3: {
                            yield* Reset.codec().stream(reader, reader.uint32(), `${prefix}.reset`, {
                                limits: opts.limits?.reset
                            });
                            break;
                        }
                        case 4: {
                            yield* Swarm.codec().stream(reader, reader.uint32(), `${prefix}.swarm`, {
                                limits: opts.limits?.swarm
                            });
                            break;
                        }
                        case 5: {
                            yield* Preheat.codec().stream(reader, reader.uint32(), `${prefix}.preheat`, {
                                limits: opts.limits?.preheat
                            });
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, SchedulerMessage.codec());
    }
    SchedulerMessage.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, SchedulerMessage.codec(), opts);
    }
    SchedulerMessage.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, SchedulerMessage.codec(), opts);
    }
    SchedulerMessage.stream = stream;
})(SchedulerMessage || (SchedulerMessage = {}));
export var Preheat;
(function (Preheat) {
    let _codec;
    Preheat.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.job != null && obj.job !== '')) {
                    w.uint32(10);
                    w.string(obj.job);
                }
                if ((obj.registry != null && obj.registry !== '')) {
                    w.uint32(18);
                    w.string(obj.registry);
                }
                if ((obj.repository != null && obj.repository !== '')) {
                    w.uint32(26);
                    w.string(obj.repository);
                }
                if ((obj.digest != null && obj.digest !== '')) {
                    w.uint32(34);
                    w.string(obj.digest);
                }
                if ((obj.manifest != null && obj.manifest !== false)) {
                    w.uint32(40);
                    w.bool(obj.manifest);
                }
                if ((obj.tag != null && obj.tag !== '')) {
                    w.uint32(50);
                    w.string(obj.tag);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    job: '',
                    registry: '',
                    repository: '',
                    digest: '',
                    manifest: false,
                    tag: ''
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.job = reader.string();
                            break;
                        }
                        case 2: {
                            obj.registry = reader.string();
                            break;
                        }
                        case 3: {
                            obj.repository = reader.string();
                            break;
                        }
                        case 4: {
                            obj.digest = reader.string();
                            break;
                        }
                        case 5: {
                            obj.manifest = reader.bool();
                            break;
                        }
                        case 6: {
                            obj.tag = reader.string();
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.job`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.registry`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.repository`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 4: {
                            yield {
                                field: `${prefix}.digest`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 5: {
                            yield {
                                field: `${prefix}.manifest`,
                                value: reader.bool()
                            };
                            break;
                        }
                        case 6: {
                            yield {
                                field: `${prefix}.tag`,
                                value: reader.string()
                            };
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, Preheat.codec());
    }
    Preheat.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, Preheat.codec(), opts);
    }
    Preheat.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, Preheat.codec(), opts);
    }
    Preheat.stream = stream;
})(Preheat || (Preheat = {}));
export var Swarm;
(function (Swarm) {
    let _codec;
    Swarm.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if (obj.peers != null && obj.peers.length > 0) {
                    for (const value of obj.peers) {
                        w.uint32(10);
                        PeerRef.codec().encode(value, w);
                    }
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    peers: []
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            if (opts.limits?.peers != null && obj.peers.length === opts.limits.peers) {
                                throw new MaxLengthError('Decode error - repeated field "peers" had too many elements');
                            }
                            obj.peers.push(PeerRef.codec().decode(reader, reader.uint32(), {
                                limits: opts.limits?.peers$
                            }));
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const obj = {
                    peers: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            if (opts.limits?.peers != null && obj.peers === opts.limits.peers) {
                                throw new MaxLengthError('Streaming decode error - repeated field "peers" had too many elements');
                            }
                            for (const evt of PeerRef.codec().stream(reader, reader.uint32(), `${prefix}.peers[]`, {
                                limits: opts.limits?.peers$
                            })) {
                                yield {
                                    ...evt,
                                    index: obj.peers
                                };
                            }
                            obj.peers++;
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, Swarm.codec());
    }
    Swarm.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, Swarm.codec(), opts);
    }
    Swarm.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, Swarm.codec(), opts);
    }
    Swarm.stream = stream;
})(Swarm || (Swarm = {}));
export var TaskInfo;
(function (TaskInfo) {
    let _codec;
    TaskInfo.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.digest != null && obj.digest !== '')) {
                    w.uint32(10);
                    w.string(obj.digest);
                }
                if ((obj.size != null && obj.size !== 0)) {
                    w.uint32(16);
                    w.uint64Number(obj.size);
                }
                if ((obj.pieceSize != null && obj.pieceSize !== 0)) {
                    w.uint32(24);
                    w.uint32(obj.pieceSize);
                }
                if (obj.members != null && obj.members.length > 0) {
                    for (const value of obj.members) {
                        w.uint32(34);
                        PeerRef.codec().encode(value, w);
                    }
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    digest: '',
                    size: 0,
                    pieceSize: 0,
                    members: []
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.digest = reader.string();
                            break;
                        }
                        case 2: {
                            obj.size = reader.uint64Number();
                            break;
                        }
                        case 3: {
                            obj.pieceSize = reader.uint32();
                            break;
                        }
                        case 4: {
                            if (opts.limits?.members != null && obj.members.length === opts.limits.members) {
                                throw new MaxLengthError('Decode error - repeated field "members" had too many elements');
                            }
                            obj.members.push(PeerRef.codec().decode(reader, reader.uint32(), {
                                limits: opts.limits?.members$
                            }));
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const obj = {
                    members: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.digest`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.size`,
                                value: reader.uint64Number()
                            };
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.pieceSize`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 4: {
                            if (opts.limits?.members != null && obj.members === opts.limits.members) {
                                throw new MaxLengthError('Streaming decode error - repeated field "members" had too many elements');
                            }
                            for (const evt of PeerRef.codec().stream(reader, reader.uint32(), `${prefix}.members[]`, {
                                limits: opts.limits?.members$
                            })) {
                                yield {
                                    ...evt,
                                    index: obj.members
                                };
                            }
                            obj.members++;
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, TaskInfo.codec());
    }
    TaskInfo.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, TaskInfo.codec(), opts);
    }
    TaskInfo.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, TaskInfo.codec(), opts);
    }
    TaskInfo.stream = stream;
})(TaskInfo || (TaskInfo = {}));
export var PeerRef;
(function (PeerRef) {
    let _codec;
    PeerRef.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.id != null && obj.id !== '')) {
                    w.uint32(10);
                    w.string(obj.id);
                }
                if (obj.addrs != null && obj.addrs.length > 0) {
                    for (const value of obj.addrs) {
                        w.uint32(18);
                        w.string(value);
                    }
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    id: '',
                    addrs: []
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.id = reader.string();
                            break;
                        }
                        case 2: {
                            if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements');
                            }
                            obj.addrs.push(reader.string());
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const obj = {
                    addrs: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.id`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 2: {
                            if (opts.limits?.addrs != null && obj.addrs === opts.limits.addrs) {
                                throw new MaxLengthError('Streaming decode error - repeated field "addrs" had too many elements');
                            }
                            yield {
                                field: `${prefix}.addrs[]`,
                                index: obj.addrs,
                                value: reader.string()
                            };
                            obj.addrs++;
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, PeerRef.codec());
    }
    PeerRef.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, PeerRef.codec(), opts);
    }
    PeerRef.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, PeerRef.codec(), opts);
    }
    PeerRef.stream = stream;
})(PeerRef || (PeerRef = {}));
export var Assignments;
(function (Assignments) {
    let _codec;
    Assignments.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.digest != null && obj.digest !== '')) {
                    w.uint32(10);
                    w.string(obj.digest);
                }
                if (obj.pieces != null && obj.pieces.length > 0) {
                    for (const value of obj.pieces) {
                        w.uint32(18);
                        PieceAssignment.codec().encode(value, w);
                    }
                }
                if (obj.origin != null && obj.origin.length > 0) {
                    for (const value of obj.origin) {
                        w.uint32(26);
                        OriginRange.codec().encode(value, w);
                    }
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    digest: '',
                    pieces: [],
                    origin: []
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.digest = reader.string();
                            break;
                        }
                        case 2: {
                            if (opts.limits?.pieces != null && obj.pieces.length === opts.limits.pieces) {
                                throw new MaxLengthError('Decode error - repeated field "pieces" had too many elements');
                            }
                            obj.pieces.push(PieceAssignment.codec().decode(reader, reader.uint32(), {
                                limits: opts.limits?.pieces$
                            }));
                            break;
                        }
                        case 3: {
                            if (opts.limits?.origin != null && obj.origin.length === opts.limits.origin) {
                                throw new MaxLengthError('Decode error - repeated field "origin" had too many elements');
                            }
                            obj.origin.push(OriginRange.codec().decode(reader, reader.uint32(), {
                                limits: opts.limits?.origin$
                            }));
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const obj = {
                    pieces: 0,
                    origin: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.digest`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 2: {
                            if (opts.limits?.pieces != null && obj.pieces === opts.limits.pieces) {
                                throw new MaxLengthError('Streaming decode error - repeated field "pieces" had too many elements');
                            }
                            for (const evt of PieceAssignment.codec().stream(reader, reader.uint32(), `${prefix}.pieces[]`, {
                                limits: opts.limits?.pieces$
                            })) {
                                yield {
                                    ...evt,
                                    index: obj.pieces
                                };
                            }
                            obj.pieces++;
                            break;
                        }
                        case 3: {
                            if (opts.limits?.origin != null && obj.origin === opts.limits.origin) {
                                throw new MaxLengthError('Streaming decode error - repeated field "origin" had too many elements');
                            }
                            for (const evt of OriginRange.codec().stream(reader, reader.uint32(), `${prefix}.origin[]`, {
                                limits: opts.limits?.origin$
                            })) {
                                yield {
                                    ...evt,
                                    index: obj.origin
                                };
                            }
                            obj.origin++;
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, Assignments.codec());
    }
    Assignments.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, Assignments.codec(), opts);
    }
    Assignments.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, Assignments.codec(), opts);
    }
    Assignments.stream = stream;
})(Assignments || (Assignments = {}));
export var PieceAssignment;
(function (PieceAssignment) {
    let _codec;
    PieceAssignment.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.index != null && obj.index !== 0)) {
                    w.uint32(8);
                    w.uint32(obj.index);
                }
                if ((obj.parent != null && obj.parent !== '')) {
                    w.uint32(18);
                    w.string(obj.parent);
                }
                if (obj.parentAddrs != null && obj.parentAddrs.length > 0) {
                    for (const value of obj.parentAddrs) {
                        w.uint32(26);
                        w.string(value);
                    }
                }
                if ((obj.sha256 != null && obj.sha256.byteLength > 0)) {
                    w.uint32(34);
                    w.bytes(obj.sha256);
                }
                if ((obj.lease != null && obj.lease !== 0)) {
                    w.uint32(40);
                    w.uint32(obj.lease);
                }
                if ((obj.pending != null && obj.pending !== false)) {
                    w.uint32(48);
                    w.bool(obj.pending);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    index: 0,
                    parent: '',
                    parentAddrs: [],
                    sha256: uint8ArrayAlloc(0),
                    lease: 0,
                    pending: false
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.index = reader.uint32();
                            break;
                        }
                        case 2: {
                            obj.parent = reader.string();
                            break;
                        }
                        case 3: {
                            if (opts.limits?.parentAddrs != null && obj.parentAddrs.length === opts.limits.parentAddrs) {
                                throw new MaxLengthError('Decode error - repeated field "parentAddrs" had too many elements');
                            }
                            obj.parentAddrs.push(reader.string());
                            break;
                        }
                        case 4: {
                            obj.sha256 = reader.bytes();
                            break;
                        }
                        case 5: {
                            obj.lease = reader.uint32();
                            break;
                        }
                        case 6: {
                            obj.pending = reader.bool();
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const obj = {
                    parentAddrs: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.index`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.parent`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 3: {
                            if (opts.limits?.parentAddrs != null && obj.parentAddrs === opts.limits.parentAddrs) {
                                throw new MaxLengthError('Streaming decode error - repeated field "parentAddrs" had too many elements');
                            }
                            yield {
                                field: `${prefix}.parentAddrs[]`,
                                index: obj.parentAddrs,
                                value: reader.string()
                            };
                            obj.parentAddrs++;
                            break;
                        }
                        case 4: {
                            yield {
                                field: `${prefix}.sha256`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 5: {
                            yield {
                                field: `${prefix}.lease`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 6: {
                            yield {
                                field: `${prefix}.pending`,
                                value: reader.bool()
                            };
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, PieceAssignment.codec());
    }
    PieceAssignment.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, PieceAssignment.codec(), opts);
    }
    PieceAssignment.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, PieceAssignment.codec(), opts);
    }
    PieceAssignment.stream = stream;
})(PieceAssignment || (PieceAssignment = {}));
export var OriginRange;
(function (OriginRange) {
    let _codec;
    OriginRange.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.first != null && obj.first !== 0)) {
                    w.uint32(8);
                    w.uint32(obj.first);
                }
                if ((obj.count != null && obj.count !== 0)) {
                    w.uint32(16);
                    w.uint32(obj.count);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    first: 0,
                    count: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.first = reader.uint32();
                            break;
                        }
                        case 2: {
                            obj.count = reader.uint32();
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.first`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.count`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, OriginRange.codec());
    }
    OriginRange.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, OriginRange.codec(), opts);
    }
    OriginRange.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, OriginRange.codec(), opts);
    }
    OriginRange.stream = stream;
})(OriginRange || (OriginRange = {}));
export var Reset;
(function (Reset) {
    let _codec;
    Reset.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.digest != null && obj.digest !== '')) {
                    w.uint32(10);
                    w.string(obj.digest);
                }
                if ((obj.reason != null && obj.reason !== '')) {
                    w.uint32(18);
                    w.string(obj.reason);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    digest: '',
                    reason: ''
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.digest = reader.string();
                            break;
                        }
                        case 2: {
                            obj.reason = reader.string();
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.digest`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.reason`,
                                value: reader.string()
                            };
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, Reset.codec());
    }
    Reset.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, Reset.codec(), opts);
    }
    Reset.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, Reset.codec(), opts);
    }
    Reset.stream = stream;
})(Reset || (Reset = {}));
export var PublicPairingQuery;
(function (PublicPairingQuery) {
    let _codec;
    PublicPairingQuery.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.registry != null && obj.registry !== '')) {
                    w.uint32(10);
                    w.string(obj.registry);
                }
                if ((obj.repository != null && obj.repository !== '')) {
                    w.uint32(18);
                    w.string(obj.repository);
                }
                if ((obj.digest != null && obj.digest !== '')) {
                    w.uint32(26);
                    w.string(obj.digest);
                }
                if ((obj.tag != null && obj.tag !== '')) {
                    w.uint32(34);
                    w.string(obj.tag);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    registry: '',
                    repository: '',
                    digest: '',
                    tag: ''
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.registry = reader.string();
                            break;
                        }
                        case 2: {
                            obj.repository = reader.string();
                            break;
                        }
                        case 3: {
                            obj.digest = reader.string();
                            break;
                        }
                        case 4: {
                            obj.tag = reader.string();
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.registry`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.repository`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.digest`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 4: {
                            yield {
                                field: `${prefix}.tag`,
                                value: reader.string()
                            };
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, PublicPairingQuery.codec());
    }
    PublicPairingQuery.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, PublicPairingQuery.codec(), opts);
    }
    PublicPairingQuery.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, PublicPairingQuery.codec(), opts);
    }
    PublicPairingQuery.stream = stream;
})(PublicPairingQuery || (PublicPairingQuery = {}));
export var PublicPairingAnswer;
(function (PublicPairingAnswer) {
    let _codec;
    PublicPairingAnswer.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.known != null && obj.known !== false)) {
                    w.uint32(8);
                    w.bool(obj.known);
                }
                if ((obj.learnedAt != null && obj.learnedAt !== 0)) {
                    w.uint32(16);
                    w.uint64Number(obj.learnedAt);
                }
                if ((obj.digest != null && obj.digest !== '')) {
                    w.uint32(26);
                    w.string(obj.digest);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    known: false,
                    learnedAt: 0,
                    digest: ''
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.known = reader.bool();
                            break;
                        }
                        case 2: {
                            obj.learnedAt = reader.uint64Number();
                            break;
                        }
                        case 3: {
                            obj.digest = reader.string();
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.known`,
                                value: reader.bool()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.learnedAt`,
                                value: reader.uint64Number()
                            };
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.digest`,
                                value: reader.string()
                            };
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, PublicPairingAnswer.codec());
    }
    PublicPairingAnswer.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, PublicPairingAnswer.codec(), opts);
    }
    PublicPairingAnswer.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, PublicPairingAnswer.codec(), opts);
    }
    PublicPairingAnswer.stream = stream;
})(PublicPairingAnswer || (PublicPairingAnswer = {}));
