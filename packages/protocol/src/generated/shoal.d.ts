import type { Codec, DecodeOptions } from 'protons-runtime';
import type { Uint8ArrayList } from 'uint8arraylist';
export interface PieceRequest {
    digest: string;
    index: number;
    pieceSize: number;
    waitMs: number;
}
export declare namespace PieceRequest {
    const codec: () => Codec<PieceRequest>;
    interface PieceRequestDigestFieldEvent {
        field: '$.digest';
        value: string;
    }
    interface PieceRequestIndexFieldEvent {
        field: '$.index';
        value: number;
    }
    interface PieceRequestPieceSizeFieldEvent {
        field: '$.pieceSize';
        value: number;
    }
    interface PieceRequestWaitMsFieldEvent {
        field: '$.waitMs';
        value: number;
    }
    function encode(obj: Partial<PieceRequest>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PieceRequest>): PieceRequest;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PieceRequest>): Generator<PieceRequestDigestFieldEvent | PieceRequestIndexFieldEvent | PieceRequestPieceSizeFieldEvent | PieceRequestWaitMsFieldEvent>;
}
export interface PieceResponse {
    status: number;
    length: number;
    sha256: Uint8Array<ArrayBuffer>;
    message: string;
    blobSize: number;
}
export declare namespace PieceResponse {
    const codec: () => Codec<PieceResponse>;
    interface PieceResponseStatusFieldEvent {
        field: '$.status';
        value: number;
    }
    interface PieceResponseLengthFieldEvent {
        field: '$.length';
        value: number;
    }
    interface PieceResponseSha256FieldEvent {
        field: '$.sha256';
        value: Uint8Array<ArrayBuffer>;
    }
    interface PieceResponseMessageFieldEvent {
        field: '$.message';
        value: string;
    }
    interface PieceResponseBlobSizeFieldEvent {
        field: '$.blobSize';
        value: number;
    }
    function encode(obj: Partial<PieceResponse>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PieceResponse>): PieceResponse;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PieceResponse>): Generator<PieceResponseStatusFieldEvent | PieceResponseLengthFieldEvent | PieceResponseSha256FieldEvent | PieceResponseMessageFieldEvent | PieceResponseBlobSizeFieldEvent>;
}
export interface PeerMessage {
    register?: Register;
    openTask?: OpenTask;
    report?: PieceReport;
    taskDone?: TaskDone;
    preheatDone?: PreheatDone;
    dropped?: Dropped;
}
export declare namespace PeerMessage {
    const codec: () => Codec<PeerMessage>;
    interface PeerMessageRegisterAddrsFieldEvent {
        field: '$.register.addrs[]';
        index: number;
        value: string;
    }
    interface PeerMessageRegisterLabelsFieldEvent {
        field: '$.register.labels{}';
        key: string;
        value: string;
    }
    interface PeerMessageRegisterUploadSlotsFieldEvent {
        field: '$.register.uploadSlots';
        value: number;
    }
    interface PeerMessageRegisterUploadRateFieldEvent {
        field: '$.register.uploadRate';
        value: number;
    }
    interface PeerMessageRegisterDownloadRateFieldEvent {
        field: '$.register.downloadRate';
        value: number;
    }
    interface PeerMessageRegisterHoldingsDigestFieldEvent {
        field: '$.register.holdings[].digest';
        value: string;
        index: number;
    }
    interface PeerMessageRegisterHoldingsSizeFieldEvent {
        field: '$.register.holdings[].size';
        value: number;
        index: number;
    }
    interface PeerMessageRegisterHoldingsPieceSizeFieldEvent {
        field: '$.register.holdings[].pieceSize';
        value: number;
        index: number;
    }
    interface PeerMessageRegisterHoldingsBitfieldFieldEvent {
        field: '$.register.holdings[].bitfield';
        value: Uint8Array<ArrayBuffer>;
        index: number;
    }
    interface PeerMessageRegisterHoldingsCompleteFieldEvent {
        field: '$.register.holdings[].complete';
        value: boolean;
        index: number;
    }
    interface PeerMessageOpenTaskDigestFieldEvent {
        field: '$.openTask.digest';
        value: string;
    }
    interface PeerMessageOpenTaskSizeFieldEvent {
        field: '$.openTask.size';
        value: number;
    }
    interface PeerMessageOpenTaskBitfieldFieldEvent {
        field: '$.openTask.bitfield';
        value: Uint8Array<ArrayBuffer>;
    }
    interface PeerMessageOpenTaskWantFieldEvent {
        field: '$.openTask.want';
        value: number;
    }
    interface PeerMessageOpenTaskReadingFieldEvent {
        field: '$.openTask.reading';
        value: number;
    }
    interface PeerMessageReportDigestFieldEvent {
        field: '$.report.digest';
        value: string;
    }
    interface PeerMessageReportDoneIndexFieldEvent {
        field: '$.report.done[].index';
        value: number;
        index: number;
    }
    interface PeerMessageReportDoneSha256FieldEvent {
        field: '$.report.done[].sha256';
        value: Uint8Array<ArrayBuffer>;
        index: number;
    }
    interface PeerMessageReportDoneParentFieldEvent {
        field: '$.report.done[].parent';
        value: string;
        index: number;
    }
    interface PeerMessageReportDoneMillisFieldEvent {
        field: '$.report.done[].millis';
        value: number;
        index: number;
    }
    interface PeerMessageReportDoneLengthFieldEvent {
        field: '$.report.done[].length';
        value: number;
        index: number;
    }
    interface PeerMessageReportFailedIndexFieldEvent {
        field: '$.report.failed[].index';
        value: number;
        index: number;
    }
    interface PeerMessageReportFailedParentFieldEvent {
        field: '$.report.failed[].parent';
        value: string;
        index: number;
    }
    interface PeerMessageReportFailedReasonFieldEvent {
        field: '$.report.failed[].reason';
        value: number;
        index: number;
    }
    interface PeerMessageReportWantFieldEvent {
        field: '$.report.want';
        value: number;
    }
    interface PeerMessageReportReadingFieldEvent {
        field: '$.report.reading';
        value: number;
    }
    interface PeerMessageTaskDoneDigestFieldEvent {
        field: '$.taskDone.digest';
        value: string;
    }
    interface PeerMessageTaskDoneOkFieldEvent {
        field: '$.taskDone.ok';
        value: boolean;
    }
    interface PeerMessageTaskDoneErrorFieldEvent {
        field: '$.taskDone.error';
        value: string;
    }
    interface PeerMessageTaskDoneDigestMismatchFieldEvent {
        field: '$.taskDone.digestMismatch';
        value: boolean;
    }
    interface PeerMessagePreheatDoneJobFieldEvent {
        field: '$.preheatDone.job';
        value: string;
    }
    interface PeerMessagePreheatDoneDigestFieldEvent {
        field: '$.preheatDone.digest';
        value: string;
    }
    interface PeerMessagePreheatDoneOkFieldEvent {
        field: '$.preheatDone.ok';
        value: boolean;
    }
    interface PeerMessagePreheatDoneErrorFieldEvent {
        field: '$.preheatDone.error';
        value: string;
    }
    interface PeerMessageDroppedDigestsFieldEvent {
        field: '$.dropped.digests[]';
        index: number;
        value: string;
    }
    function encode(obj: Partial<PeerMessage>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PeerMessage>): PeerMessage;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PeerMessage>): Generator<PeerMessageRegisterAddrsFieldEvent | PeerMessageRegisterLabelsFieldEvent | PeerMessageRegisterUploadSlotsFieldEvent | PeerMessageRegisterUploadRateFieldEvent | PeerMessageRegisterDownloadRateFieldEvent | PeerMessageRegisterHoldingsDigestFieldEvent | PeerMessageRegisterHoldingsSizeFieldEvent | PeerMessageRegisterHoldingsPieceSizeFieldEvent | PeerMessageRegisterHoldingsBitfieldFieldEvent | PeerMessageRegisterHoldingsCompleteFieldEvent | PeerMessageOpenTaskDigestFieldEvent | PeerMessageOpenTaskSizeFieldEvent | PeerMessageOpenTaskBitfieldFieldEvent | PeerMessageOpenTaskWantFieldEvent | PeerMessageOpenTaskReadingFieldEvent | PeerMessageReportDigestFieldEvent | PeerMessageReportDoneIndexFieldEvent | PeerMessageReportDoneSha256FieldEvent | PeerMessageReportDoneParentFieldEvent | PeerMessageReportDoneMillisFieldEvent | PeerMessageReportDoneLengthFieldEvent | PeerMessageReportFailedIndexFieldEvent | PeerMessageReportFailedParentFieldEvent | PeerMessageReportFailedReasonFieldEvent | PeerMessageReportWantFieldEvent | PeerMessageReportReadingFieldEvent | PeerMessageTaskDoneDigestFieldEvent | PeerMessageTaskDoneOkFieldEvent | PeerMessageTaskDoneErrorFieldEvent | PeerMessageTaskDoneDigestMismatchFieldEvent | PeerMessagePreheatDoneJobFieldEvent | PeerMessagePreheatDoneDigestFieldEvent | PeerMessagePreheatDoneOkFieldEvent | PeerMessagePreheatDoneErrorFieldEvent | PeerMessageDroppedDigestsFieldEvent>;
}
export interface Dropped {
    digests: string[];
}
export declare namespace Dropped {
    const codec: () => Codec<Dropped>;
    interface DroppedDigestsFieldEvent {
        field: '$.digests[]';
        index: number;
        value: string;
    }
    function encode(obj: Partial<Dropped>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Dropped>): Dropped;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Dropped>): Generator<DroppedDigestsFieldEvent>;
}
export interface Register {
    addrs: string[];
    labels: Map<string, string>;
    uploadSlots: number;
    uploadRate: number;
    downloadRate: number;
    holdings: Holding[];
}
export declare namespace Register {
    interface Register$labelsEntry {
        key: string;
        value: string;
    }
    namespace Register$labelsEntry {
        const codec: () => Codec<Register$labelsEntry>;
        interface Register$labelsEntryKeyFieldEvent {
            field: '$.key';
            value: string;
        }
        interface Register$labelsEntryValueFieldEvent {
            field: '$.value';
            value: string;
        }
        function encode(obj: Partial<Register$labelsEntry>): Uint8Array<ArrayBuffer>;
        function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Register$labelsEntry>): Register$labelsEntry;
        function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Register$labelsEntry>): Generator<Register$labelsEntryKeyFieldEvent | Register$labelsEntryValueFieldEvent>;
    }
    const codec: () => Codec<Register>;
    interface RegisterAddrsFieldEvent {
        field: '$.addrs[]';
        index: number;
        value: string;
    }
    interface RegisterLabelsFieldEvent {
        field: '$.labels{}';
        key: string;
        value: string;
    }
    interface RegisterUploadSlotsFieldEvent {
        field: '$.uploadSlots';
        value: number;
    }
    interface RegisterUploadRateFieldEvent {
        field: '$.uploadRate';
        value: number;
    }
    interface RegisterDownloadRateFieldEvent {
        field: '$.downloadRate';
        value: number;
    }
    interface RegisterHoldingsDigestFieldEvent {
        field: '$.holdings[].digest';
        value: string;
        index: number;
    }
    interface RegisterHoldingsSizeFieldEvent {
        field: '$.holdings[].size';
        value: number;
        index: number;
    }
    interface RegisterHoldingsPieceSizeFieldEvent {
        field: '$.holdings[].pieceSize';
        value: number;
        index: number;
    }
    interface RegisterHoldingsBitfieldFieldEvent {
        field: '$.holdings[].bitfield';
        value: Uint8Array<ArrayBuffer>;
        index: number;
    }
    interface RegisterHoldingsCompleteFieldEvent {
        field: '$.holdings[].complete';
        value: boolean;
        index: number;
    }
    function encode(obj: Partial<Register>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Register>): Register;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Register>): Generator<RegisterAddrsFieldEvent | RegisterLabelsFieldEvent | RegisterUploadSlotsFieldEvent | RegisterUploadRateFieldEvent | RegisterDownloadRateFieldEvent | RegisterHoldingsDigestFieldEvent | RegisterHoldingsSizeFieldEvent | RegisterHoldingsPieceSizeFieldEvent | RegisterHoldingsBitfieldFieldEvent | RegisterHoldingsCompleteFieldEvent>;
}
export interface Holding {
    digest: string;
    size: number;
    pieceSize: number;
    bitfield: Uint8Array<ArrayBuffer>;
    complete: boolean;
}
export declare namespace Holding {
    const codec: () => Codec<Holding>;
    interface HoldingDigestFieldEvent {
        field: '$.digest';
        value: string;
    }
    interface HoldingSizeFieldEvent {
        field: '$.size';
        value: number;
    }
    interface HoldingPieceSizeFieldEvent {
        field: '$.pieceSize';
        value: number;
    }
    interface HoldingBitfieldFieldEvent {
        field: '$.bitfield';
        value: Uint8Array<ArrayBuffer>;
    }
    interface HoldingCompleteFieldEvent {
        field: '$.complete';
        value: boolean;
    }
    function encode(obj: Partial<Holding>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Holding>): Holding;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Holding>): Generator<HoldingDigestFieldEvent | HoldingSizeFieldEvent | HoldingPieceSizeFieldEvent | HoldingBitfieldFieldEvent | HoldingCompleteFieldEvent>;
}
export interface OpenTask {
    digest: string;
    size: number;
    bitfield: Uint8Array<ArrayBuffer>;
    want: number;
    reading?: number;
}
export declare namespace OpenTask {
    const codec: () => Codec<OpenTask>;
    interface OpenTaskDigestFieldEvent {
        field: '$.digest';
        value: string;
    }
    interface OpenTaskSizeFieldEvent {
        field: '$.size';
        value: number;
    }
    interface OpenTaskBitfieldFieldEvent {
        field: '$.bitfield';
        value: Uint8Array<ArrayBuffer>;
    }
    interface OpenTaskWantFieldEvent {
        field: '$.want';
        value: number;
    }
    interface OpenTaskReadingFieldEvent {
        field: '$.reading';
        value: number;
    }
    function encode(obj: Partial<OpenTask>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<OpenTask>): OpenTask;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<OpenTask>): Generator<OpenTaskDigestFieldEvent | OpenTaskSizeFieldEvent | OpenTaskBitfieldFieldEvent | OpenTaskWantFieldEvent | OpenTaskReadingFieldEvent>;
}
export interface PieceReport {
    digest: string;
    done: PieceDone[];
    failed: PieceFailed[];
    want: number;
    reading?: number;
}
export declare namespace PieceReport {
    const codec: () => Codec<PieceReport>;
    interface PieceReportDigestFieldEvent {
        field: '$.digest';
        value: string;
    }
    interface PieceReportDoneIndexFieldEvent {
        field: '$.done[].index';
        value: number;
        index: number;
    }
    interface PieceReportDoneSha256FieldEvent {
        field: '$.done[].sha256';
        value: Uint8Array<ArrayBuffer>;
        index: number;
    }
    interface PieceReportDoneParentFieldEvent {
        field: '$.done[].parent';
        value: string;
        index: number;
    }
    interface PieceReportDoneMillisFieldEvent {
        field: '$.done[].millis';
        value: number;
        index: number;
    }
    interface PieceReportDoneLengthFieldEvent {
        field: '$.done[].length';
        value: number;
        index: number;
    }
    interface PieceReportFailedIndexFieldEvent {
        field: '$.failed[].index';
        value: number;
        index: number;
    }
    interface PieceReportFailedParentFieldEvent {
        field: '$.failed[].parent';
        value: string;
        index: number;
    }
    interface PieceReportFailedReasonFieldEvent {
        field: '$.failed[].reason';
        value: number;
        index: number;
    }
    interface PieceReportWantFieldEvent {
        field: '$.want';
        value: number;
    }
    interface PieceReportReadingFieldEvent {
        field: '$.reading';
        value: number;
    }
    function encode(obj: Partial<PieceReport>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PieceReport>): PieceReport;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PieceReport>): Generator<PieceReportDigestFieldEvent | PieceReportDoneIndexFieldEvent | PieceReportDoneSha256FieldEvent | PieceReportDoneParentFieldEvent | PieceReportDoneMillisFieldEvent | PieceReportDoneLengthFieldEvent | PieceReportFailedIndexFieldEvent | PieceReportFailedParentFieldEvent | PieceReportFailedReasonFieldEvent | PieceReportWantFieldEvent | PieceReportReadingFieldEvent>;
}
export interface PieceDone {
    index: number;
    sha256: Uint8Array<ArrayBuffer>;
    parent: string;
    millis: number;
    length: number;
}
export declare namespace PieceDone {
    const codec: () => Codec<PieceDone>;
    interface PieceDoneIndexFieldEvent {
        field: '$.index';
        value: number;
    }
    interface PieceDoneSha256FieldEvent {
        field: '$.sha256';
        value: Uint8Array<ArrayBuffer>;
    }
    interface PieceDoneParentFieldEvent {
        field: '$.parent';
        value: string;
    }
    interface PieceDoneMillisFieldEvent {
        field: '$.millis';
        value: number;
    }
    interface PieceDoneLengthFieldEvent {
        field: '$.length';
        value: number;
    }
    function encode(obj: Partial<PieceDone>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PieceDone>): PieceDone;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PieceDone>): Generator<PieceDoneIndexFieldEvent | PieceDoneSha256FieldEvent | PieceDoneParentFieldEvent | PieceDoneMillisFieldEvent | PieceDoneLengthFieldEvent>;
}
export interface PieceFailed {
    index: number;
    parent: string;
    reason: number;
}
export declare namespace PieceFailed {
    const codec: () => Codec<PieceFailed>;
    interface PieceFailedIndexFieldEvent {
        field: '$.index';
        value: number;
    }
    interface PieceFailedParentFieldEvent {
        field: '$.parent';
        value: string;
    }
    interface PieceFailedReasonFieldEvent {
        field: '$.reason';
        value: number;
    }
    function encode(obj: Partial<PieceFailed>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PieceFailed>): PieceFailed;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PieceFailed>): Generator<PieceFailedIndexFieldEvent | PieceFailedParentFieldEvent | PieceFailedReasonFieldEvent>;
}
export interface TaskDone {
    digest: string;
    ok: boolean;
    error: string;
    digestMismatch: boolean;
}
export declare namespace TaskDone {
    const codec: () => Codec<TaskDone>;
    interface TaskDoneDigestFieldEvent {
        field: '$.digest';
        value: string;
    }
    interface TaskDoneOkFieldEvent {
        field: '$.ok';
        value: boolean;
    }
    interface TaskDoneErrorFieldEvent {
        field: '$.error';
        value: string;
    }
    interface TaskDoneDigestMismatchFieldEvent {
        field: '$.digestMismatch';
        value: boolean;
    }
    function encode(obj: Partial<TaskDone>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TaskDone>): TaskDone;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TaskDone>): Generator<TaskDoneDigestFieldEvent | TaskDoneOkFieldEvent | TaskDoneErrorFieldEvent | TaskDoneDigestMismatchFieldEvent>;
}
export interface PreheatDone {
    job: string;
    digest: string;
    ok: boolean;
    error: string;
}
export declare namespace PreheatDone {
    const codec: () => Codec<PreheatDone>;
    interface PreheatDoneJobFieldEvent {
        field: '$.job';
        value: string;
    }
    interface PreheatDoneDigestFieldEvent {
        field: '$.digest';
        value: string;
    }
    interface PreheatDoneOkFieldEvent {
        field: '$.ok';
        value: boolean;
    }
    interface PreheatDoneErrorFieldEvent {
        field: '$.error';
        value: string;
    }
    function encode(obj: Partial<PreheatDone>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PreheatDone>): PreheatDone;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PreheatDone>): Generator<PreheatDoneJobFieldEvent | PreheatDoneDigestFieldEvent | PreheatDoneOkFieldEvent | PreheatDoneErrorFieldEvent>;
}
export interface SchedulerMessage {
    taskInfo?: TaskInfo;
    assignments?: Assignments;
    reset?: Reset;
    swarm?: Swarm;
    preheat?: Preheat;
}
export declare namespace SchedulerMessage {
    const codec: () => Codec<SchedulerMessage>;
    interface SchedulerMessageTaskInfoDigestFieldEvent {
        field: '$.taskInfo.digest';
        value: string;
    }
    interface SchedulerMessageTaskInfoSizeFieldEvent {
        field: '$.taskInfo.size';
        value: number;
    }
    interface SchedulerMessageTaskInfoPieceSizeFieldEvent {
        field: '$.taskInfo.pieceSize';
        value: number;
    }
    interface SchedulerMessageTaskInfoMembersIdFieldEvent {
        field: '$.taskInfo.members[].id';
        value: string;
        index: number;
    }
    interface SchedulerMessageTaskInfoMembersAddrsFieldEvent {
        field: '$.taskInfo.members[].addrs[]';
        index: number;
        value: string;
    }
    interface SchedulerMessageAssignmentsDigestFieldEvent {
        field: '$.assignments.digest';
        value: string;
    }
    interface SchedulerMessageAssignmentsPiecesIndexFieldEvent {
        field: '$.assignments.pieces[].index';
        value: number;
        index: number;
    }
    interface SchedulerMessageAssignmentsPiecesParentFieldEvent {
        field: '$.assignments.pieces[].parent';
        value: string;
        index: number;
    }
    interface SchedulerMessageAssignmentsPiecesParentAddrsFieldEvent {
        field: '$.assignments.pieces[].parentAddrs[]';
        index: number;
        value: string;
    }
    interface SchedulerMessageAssignmentsPiecesSha256FieldEvent {
        field: '$.assignments.pieces[].sha256';
        value: Uint8Array<ArrayBuffer>;
        index: number;
    }
    interface SchedulerMessageAssignmentsPiecesLeaseFieldEvent {
        field: '$.assignments.pieces[].lease';
        value: number;
        index: number;
    }
    interface SchedulerMessageAssignmentsPiecesPendingFieldEvent {
        field: '$.assignments.pieces[].pending';
        value: boolean;
        index: number;
    }
    interface SchedulerMessageAssignmentsOriginFirstFieldEvent {
        field: '$.assignments.origin[].first';
        value: number;
        index: number;
    }
    interface SchedulerMessageAssignmentsOriginCountFieldEvent {
        field: '$.assignments.origin[].count';
        value: number;
        index: number;
    }
    interface SchedulerMessageResetDigestFieldEvent {
        field: '$.reset.digest';
        value: string;
    }
    interface SchedulerMessageResetReasonFieldEvent {
        field: '$.reset.reason';
        value: string;
    }
    interface SchedulerMessageSwarmPeersIdFieldEvent {
        field: '$.swarm.peers[].id';
        value: string;
        index: number;
    }
    interface SchedulerMessageSwarmPeersAddrsFieldEvent {
        field: '$.swarm.peers[].addrs[]';
        index: number;
        value: string;
    }
    interface SchedulerMessagePreheatJobFieldEvent {
        field: '$.preheat.job';
        value: string;
    }
    interface SchedulerMessagePreheatRegistryFieldEvent {
        field: '$.preheat.registry';
        value: string;
    }
    interface SchedulerMessagePreheatRepositoryFieldEvent {
        field: '$.preheat.repository';
        value: string;
    }
    interface SchedulerMessagePreheatDigestFieldEvent {
        field: '$.preheat.digest';
        value: string;
    }
    interface SchedulerMessagePreheatManifestFieldEvent {
        field: '$.preheat.manifest';
        value: boolean;
    }
    interface SchedulerMessagePreheatTagFieldEvent {
        field: '$.preheat.tag';
        value: string;
    }
    function encode(obj: Partial<SchedulerMessage>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SchedulerMessage>): SchedulerMessage;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SchedulerMessage>): Generator<SchedulerMessageTaskInfoDigestFieldEvent | SchedulerMessageTaskInfoSizeFieldEvent | SchedulerMessageTaskInfoPieceSizeFieldEvent | SchedulerMessageTaskInfoMembersIdFieldEvent | SchedulerMessageTaskInfoMembersAddrsFieldEvent | SchedulerMessageAssignmentsDigestFieldEvent | SchedulerMessageAssignmentsPiecesIndexFieldEvent | SchedulerMessageAssignmentsPiecesParentFieldEvent | SchedulerMessageAssignmentsPiecesParentAddrsFieldEvent | SchedulerMessageAssignmentsPiecesSha256FieldEvent | SchedulerMessageAssignmentsPiecesLeaseFieldEvent | SchedulerMessageAssignmentsPiecesPendingFieldEvent | SchedulerMessageAssignmentsOriginFirstFieldEvent | SchedulerMessageAssignmentsOriginCountFieldEvent | SchedulerMessageResetDigestFieldEvent | SchedulerMessageResetReasonFieldEvent | SchedulerMessageSwarmPeersIdFieldEvent | SchedulerMessageSwarmPeersAddrsFieldEvent | SchedulerMessagePreheatJobFieldEvent | SchedulerMessagePreheatRegistryFieldEvent | SchedulerMessagePreheatRepositoryFieldEvent | SchedulerMessagePreheatDigestFieldEvent | SchedulerMessagePreheatManifestFieldEvent | SchedulerMessagePreheatTagFieldEvent>;
}
export interface Preheat {
    job: string;
    registry: string;
    repository: string;
    digest: string;
    manifest: boolean;
    tag: string;
}
export declare namespace Preheat {
    const codec: () => Codec<Preheat>;
    interface PreheatJobFieldEvent {
        field: '$.job';
        value: string;
    }
    interface PreheatRegistryFieldEvent {
        field: '$.registry';
        value: string;
    }
    interface PreheatRepositoryFieldEvent {
        field: '$.repository';
        value: string;
    }
    interface PreheatDigestFieldEvent {
        field: '$.digest';
        value: string;
    }
    interface PreheatManifestFieldEvent {
        field: '$.manifest';
        value: boolean;
    }
    interface PreheatTagFieldEvent {
        field: '$.tag';
        value: string;
    }
    function encode(obj: Partial<Preheat>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Preheat>): Preheat;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Preheat>): Generator<PreheatJobFieldEvent | PreheatRegistryFieldEvent | PreheatRepositoryFieldEvent | PreheatDigestFieldEvent | PreheatManifestFieldEvent | PreheatTagFieldEvent>;
}
export interface Swarm {
    peers: PeerRef[];
}
export declare namespace Swarm {
    const codec: () => Codec<Swarm>;
    interface SwarmPeersIdFieldEvent {
        field: '$.peers[].id';
        value: string;
        index: number;
    }
    interface SwarmPeersAddrsFieldEvent {
        field: '$.peers[].addrs[]';
        index: number;
        value: string;
    }
    function encode(obj: Partial<Swarm>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Swarm>): Swarm;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Swarm>): Generator<SwarmPeersIdFieldEvent | SwarmPeersAddrsFieldEvent>;
}
export interface TaskInfo {
    digest: string;
    size: number;
    pieceSize: number;
    members: PeerRef[];
}
export declare namespace TaskInfo {
    const codec: () => Codec<TaskInfo>;
    interface TaskInfoDigestFieldEvent {
        field: '$.digest';
        value: string;
    }
    interface TaskInfoSizeFieldEvent {
        field: '$.size';
        value: number;
    }
    interface TaskInfoPieceSizeFieldEvent {
        field: '$.pieceSize';
        value: number;
    }
    interface TaskInfoMembersIdFieldEvent {
        field: '$.members[].id';
        value: string;
        index: number;
    }
    interface TaskInfoMembersAddrsFieldEvent {
        field: '$.members[].addrs[]';
        index: number;
        value: string;
    }
    function encode(obj: Partial<TaskInfo>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TaskInfo>): TaskInfo;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TaskInfo>): Generator<TaskInfoDigestFieldEvent | TaskInfoSizeFieldEvent | TaskInfoPieceSizeFieldEvent | TaskInfoMembersIdFieldEvent | TaskInfoMembersAddrsFieldEvent>;
}
export interface PeerRef {
    id: string;
    addrs: string[];
}
export declare namespace PeerRef {
    const codec: () => Codec<PeerRef>;
    interface PeerRefIdFieldEvent {
        field: '$.id';
        value: string;
    }
    interface PeerRefAddrsFieldEvent {
        field: '$.addrs[]';
        index: number;
        value: string;
    }
    function encode(obj: Partial<PeerRef>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PeerRef>): PeerRef;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PeerRef>): Generator<PeerRefIdFieldEvent | PeerRefAddrsFieldEvent>;
}
export interface Assignments {
    digest: string;
    pieces: PieceAssignment[];
    origin: OriginRange[];
}
export declare namespace Assignments {
    const codec: () => Codec<Assignments>;
    interface AssignmentsDigestFieldEvent {
        field: '$.digest';
        value: string;
    }
    interface AssignmentsPiecesIndexFieldEvent {
        field: '$.pieces[].index';
        value: number;
        index: number;
    }
    interface AssignmentsPiecesParentFieldEvent {
        field: '$.pieces[].parent';
        value: string;
        index: number;
    }
    interface AssignmentsPiecesParentAddrsFieldEvent {
        field: '$.pieces[].parentAddrs[]';
        index: number;
        value: string;
    }
    interface AssignmentsPiecesSha256FieldEvent {
        field: '$.pieces[].sha256';
        value: Uint8Array<ArrayBuffer>;
        index: number;
    }
    interface AssignmentsPiecesLeaseFieldEvent {
        field: '$.pieces[].lease';
        value: number;
        index: number;
    }
    interface AssignmentsPiecesPendingFieldEvent {
        field: '$.pieces[].pending';
        value: boolean;
        index: number;
    }
    interface AssignmentsOriginFirstFieldEvent {
        field: '$.origin[].first';
        value: number;
        index: number;
    }
    interface AssignmentsOriginCountFieldEvent {
        field: '$.origin[].count';
        value: number;
        index: number;
    }
    function encode(obj: Partial<Assignments>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Assignments>): Assignments;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Assignments>): Generator<AssignmentsDigestFieldEvent | AssignmentsPiecesIndexFieldEvent | AssignmentsPiecesParentFieldEvent | AssignmentsPiecesParentAddrsFieldEvent | AssignmentsPiecesSha256FieldEvent | AssignmentsPiecesLeaseFieldEvent | AssignmentsPiecesPendingFieldEvent | AssignmentsOriginFirstFieldEvent | AssignmentsOriginCountFieldEvent>;
}
export interface PieceAssignment {
    index: number;
    parent: string;
    parentAddrs: string[];
    sha256: Uint8Array<ArrayBuffer>;
    lease: number;
    pending: boolean;
}
export declare namespace PieceAssignment {
    const codec: () => Codec<PieceAssignment>;
    interface PieceAssignmentIndexFieldEvent {
        field: '$.index';
        value: number;
    }
    interface PieceAssignmentParentFieldEvent {
        field: '$.parent';
        value: string;
    }
    interface PieceAssignmentParentAddrsFieldEvent {
        field: '$.parentAddrs[]';
        index: number;
        value: string;
    }
    interface PieceAssignmentSha256FieldEvent {
        field: '$.sha256';
        value: Uint8Array<ArrayBuffer>;
    }
    interface PieceAssignmentLeaseFieldEvent {
        field: '$.lease';
        value: number;
    }
    interface PieceAssignmentPendingFieldEvent {
        field: '$.pending';
        value: boolean;
    }
    function encode(obj: Partial<PieceAssignment>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PieceAssignment>): PieceAssignment;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PieceAssignment>): Generator<PieceAssignmentIndexFieldEvent | PieceAssignmentParentFieldEvent | PieceAssignmentParentAddrsFieldEvent | PieceAssignmentSha256FieldEvent | PieceAssignmentLeaseFieldEvent | PieceAssignmentPendingFieldEvent>;
}
export interface OriginRange {
    first: number;
    count: number;
}
export declare namespace OriginRange {
    const codec: () => Codec<OriginRange>;
    interface OriginRangeFirstFieldEvent {
        field: '$.first';
        value: number;
    }
    interface OriginRangeCountFieldEvent {
        field: '$.count';
        value: number;
    }
    function encode(obj: Partial<OriginRange>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<OriginRange>): OriginRange;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<OriginRange>): Generator<OriginRangeFirstFieldEvent | OriginRangeCountFieldEvent>;
}
export interface Reset {
    digest: string;
    reason: string;
}
export declare namespace Reset {
    const codec: () => Codec<Reset>;
    interface ResetDigestFieldEvent {
        field: '$.digest';
        value: string;
    }
    interface ResetReasonFieldEvent {
        field: '$.reason';
        value: string;
    }
    function encode(obj: Partial<Reset>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Reset>): Reset;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Reset>): Generator<ResetDigestFieldEvent | ResetReasonFieldEvent>;
}
export interface PublicPairingQuery {
    registry: string;
    repository: string;
    digest: string;
    tag: string;
}
export declare namespace PublicPairingQuery {
    const codec: () => Codec<PublicPairingQuery>;
    interface PublicPairingQueryRegistryFieldEvent {
        field: '$.registry';
        value: string;
    }
    interface PublicPairingQueryRepositoryFieldEvent {
        field: '$.repository';
        value: string;
    }
    interface PublicPairingQueryDigestFieldEvent {
        field: '$.digest';
        value: string;
    }
    interface PublicPairingQueryTagFieldEvent {
        field: '$.tag';
        value: string;
    }
    function encode(obj: Partial<PublicPairingQuery>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PublicPairingQuery>): PublicPairingQuery;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PublicPairingQuery>): Generator<PublicPairingQueryRegistryFieldEvent | PublicPairingQueryRepositoryFieldEvent | PublicPairingQueryDigestFieldEvent | PublicPairingQueryTagFieldEvent>;
}
export interface PublicPairingAnswer {
    known: boolean;
    learnedAt: number;
    digest: string;
}
export declare namespace PublicPairingAnswer {
    const codec: () => Codec<PublicPairingAnswer>;
    interface PublicPairingAnswerKnownFieldEvent {
        field: '$.known';
        value: boolean;
    }
    interface PublicPairingAnswerLearnedAtFieldEvent {
        field: '$.learnedAt';
        value: number;
    }
    interface PublicPairingAnswerDigestFieldEvent {
        field: '$.digest';
        value: string;
    }
    function encode(obj: Partial<PublicPairingAnswer>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PublicPairingAnswer>): PublicPairingAnswer;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PublicPairingAnswer>): Generator<PublicPairingAnswerKnownFieldEvent | PublicPairingAnswerLearnedAtFieldEvent | PublicPairingAnswerDigestFieldEvent>;
}
