#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A ``StorageBackend`` over a local directory: one file per object, `a/b/c` at `root/a/b/c`.
///
/// **Atomic writes.** ``put(_:_:)`` writes a temporary file beside the target, `fsync`s it,
/// renames it over the target and `fsync`s the directory, so a reader (in this process or any
/// other) opens either the old object or the new one, never a partial file, and a completed put
/// survives a power cut. Temporary names start with `.`, which no ``ObjectKey`` segment may, so
/// an interrupted write is never listed or read; ``removeAbandonedTemporaryFiles(olderThan:)``
/// sweeps them.
///
/// **No escapes.** Keys are validated by ``ObjectKey`` (no `..`, no absolute paths, no NUL,
/// backslash or control bytes, no empty segments), and paths are walked one directory at a time
/// with `O_NOFOLLOW`, so even a symbolic link planted inside the root cannot redirect a read or a
/// write outside it: a path through a link fails with ``StorageError/Code/ioFailure``.
///
/// **Filesystem limits.** A file cannot also be a directory, so `a` and `a/b` cannot both exist;
/// the second put fails with ``StorageError/Code/conflict``. `lastModified` is the file's
/// modification time as the filesystem records it (for a network filesystem, the server's
/// clock). ETags are `inode-size-mtime` in hex: they change with every write.
///
/// Blocking system calls run on a Dispatch queue, not on Swift's cooperative threads.
public struct FileSystemStorage: StorageBackend {
    /// The directory holding the objects.
    public let root: String
    /// When set, every write's modification time (its `lastModified`) is this clock's time
    /// instead of the filesystem's — a simulated server clock for simulations and tests.
    public let clock: (any WallClock)?

    /// Opens (and, if asked, creates) a store at `root`.
    /// - Parameters:
    ///   - root: A directory path.
    ///   - create: Create the directory and its parents when missing.
    /// - Throws: ``StorageError`` `.invalidConfiguration` if `root` is not a usable directory.
    ///   - clock: A server clock that stamps every write; nil (the default) keeps the
    ///     filesystem's own modification times.
    public init(root: String, create: Bool = true, clock: (any WallClock)? = nil) throws {
        guard !root.isEmpty, !root.utf8.contains(0) else {
            throw StorageError(.invalidConfiguration, "the storage root must be a non-empty path without NUL")
        }
        self.root = root
        self.clock = clock
        if create { try Self.makeDirectories(root) }
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            throw StorageError(.invalidConfiguration, "cannot open storage root \(root): \(Self.describeErrno())")
        }
        close(fd)
    }

    public func put(_ key: ObjectKey, _ bytes: [UInt8]) async throws -> ObjectInfo {
        let root = root
        let stamp = clock?.now().timeIntervalSince1970
        return try await Self.offload { try Self.putBlocking(root: root, key: key, bytes: bytes, modificationTime: stamp) }
    }

    public func get(_ key: ObjectKey, limit: Int) async throws -> (info: ObjectInfo, bytes: [UInt8]) {
        try validateLimit(limit, key: key)
        let root = root
        let result = try await Self.offload { () -> ReadResult in
            try Self.getBlocking(root: root, key: key, limit: limit)
        }
        return (result.info, result.bytes)
    }

    public func head(_ key: ObjectKey) async throws -> ObjectInfo? {
        let root = root
        return try await Self.offload { try Self.headBlocking(root: root, key: key) }
    }

    /// - Complexity: O(*n* log *n*) in the number of files under the prefix's directory: the
    ///   directory is walked and sorted for every page.
    public func listPage(prefix: String, after continuation: ListContinuation?, pageSize: Int) async throws -> ObjectListing {
        try validateListArguments(prefix: prefix, pageSize: pageSize)
        let root = root
        return try await Self.offload {
            try Self.listBlocking(root: root, prefix: prefix, after: continuation?.token, pageSize: pageSize)
        }
    }

    public func delete(_ key: ObjectKey) async throws {
        let root = root
        try await Self.offload { try Self.deleteBlocking(root: root, key: key) }
    }

    /// Removes temporary files left by writes that never finished (a crash, a kill) and were
    /// last touched more than `age` seconds ago.
    /// - Returns: How many files were removed.
    /// - Throws: ``StorageError`` `.ioFailure` if the root cannot be read.
    @discardableResult
    public func removeAbandonedTemporaryFiles(olderThan age: TimeInterval = 3600) async throws -> Int {
        let root = root
        return try await Self.offload { try Self.sweepBlocking(root: root, olderThan: age) }
    }

    // MARK: - Blocking implementation

    struct ReadResult: Sendable {
        var info: ObjectInfo
        var bytes: [UInt8]
    }

    /// The prefix of temporary file names; no key segment can start with '.'.
    static let temporaryPrefix = ".tessera-tmp-"

    private static func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try body() })
            }
        }
    }

    private static func describeErrno(_ code: Int32 = errno) -> String {
        String(cString: strerror(code)) + " (errno \(code))"
    }

    private static func ioError(_ what: String, key: ObjectKey?, _ code: Int32 = errno) -> StorageError {
        if code == ELOOP {
            return StorageError(.ioFailure, key: key?.rawValue, "\(what): the path goes through a symbolic link, which storage never follows")
        }
        if code == ENOSPC || code == EDQUOT {
            return StorageError(.ioFailure, key: key?.rawValue, "\(what): no space left: \(describeErrno(code))")
        }
        return StorageError(.ioFailure, key: key?.rawValue, "\(what): \(describeErrno(code))")
    }

    private static func makeDirectories(_ path: String) throws {
        var current = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            current += (current.isEmpty || current.hasSuffix("/") ? "" : "/") + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw StorageError(.invalidConfiguration, "cannot create storage root \(path) at \(current): \(describeErrno())")
            }
        }
    }

    /// Opens the root directory.
    private static func openRoot(_ root: String, key: ObjectKey?) throws -> Int32 {
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw ioError("cannot open the storage root \(root)", key: key) }
        return fd
    }

    /// The outcome of walking to a key's directory.
    private enum Walk {
        /// The directories from the root down to the key's parent, all open (the last is the
        /// parent); the caller closes them.
        case found([Int32])
        /// A directory on the way is missing, or is a file.
        case missing
    }

    /// Walks `segments` from the root with `O_NOFOLLOW`, creating directories if asked.
    private static func walk(root: String, directories segments: ArraySlice<Substring>, create: Bool, key: ObjectKey?) throws -> Walk {
        var chain = [try openRoot(root, key: key)]
        for segment in segments {
            let name = String(segment)
            if create, mkdirat(chain.last!, name, 0o755) != 0, errno != EEXIST {
                let code = errno
                closeAll(chain)
                if code == ENOTDIR { return .missing }
                throw ioError("cannot create directory \(name)", key: key, code)
            }
            let next = openat(chain.last!, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0 {
                let code = errno
                // Linux reports a symbolic link opened with O_DIRECTORY | O_NOFOLLOW as ENOTDIR,
                // like a regular file: tell the two apart.
                var status = stat()
                let isLink = (code == ENOTDIR || code == ELOOP)
                    && fstatat(chain.last!, name, &status, AT_SYMLINK_NOFOLLOW) == 0
                    && (status.st_mode & S_IFMT) == S_IFLNK
                closeAll(chain)
                if isLink {
                    throw ioError("cannot open directory \(name)", key: key, ELOOP)
                }
                switch code {
                case ENOENT, ENOTDIR:
                    // ENOTDIR: a regular file sits where a directory would.
                    if create && code == ENOTDIR {
                        throw StorageError(.conflict, key: key?.rawValue, "'\(name)' is an object, so it cannot also be a directory of objects")
                    }
                    return .missing
                default:
                    throw ioError("cannot open directory \(name)", key: key, code)
                }
            }
            chain.append(next)
        }
        return .found(chain)
    }

    private static func closeAll(_ fds: [Int32]) {
        for fd in fds { close(fd) }
    }

    private static func info(key: ObjectKey, status: stat) -> ObjectInfo {
        #if canImport(Darwin)
        let seconds = Int64(status.st_mtimespec.tv_sec), nanoseconds = Int64(status.st_mtimespec.tv_nsec)
        #else
        let seconds = Int64(status.st_mtim.tv_sec), nanoseconds = Int64(status.st_mtim.tv_nsec)
        #endif
        let etag = String(UInt64(status.st_ino), radix: 16) + "-" + String(UInt64(status.st_size), radix: 16)
            + "-" + String(UInt64(bitPattern: seconds &* 1_000_000_000 &+ nanoseconds), radix: 16)
        return ObjectInfo(
            key: key, size: Int(status.st_size), etag: etag,
            lastModified: Date(timeIntervalSince1970: Double(seconds) + Double(nanoseconds) / 1e9))
    }

    private static func isRegularFile(_ status: stat) -> Bool {
        (status.st_mode & S_IFMT) == S_IFREG
    }

    static func putBlocking(root: String, key: ObjectKey, bytes: [UInt8], modificationTime: Double? = nil) throws -> ObjectInfo {
        let segments = key.segments
        // A concurrent delete may prune a directory between our mkdir and our rename; try again.
        for attempt in 0..<8 {
            guard case .found(let chain) = try walk(root: root, directories: segments.dropLast(), create: true, key: key) else {
                throw StorageError(.conflict, key: key.rawValue, "a directory of the key is an object")
            }
            defer { closeAll(chain) }
            let parent = chain.last!
            let leaf = String(segments.last!)
            var generator = SystemRandomNumberGenerator()
            let temporary = temporaryPrefix + String(generator.next(), radix: 16)
            let fd = openat(parent, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            if fd < 0 {
                if errno == ENOENT, attempt < 7 { continue }
                throw ioError("cannot create a temporary file", key: key)
            }
            var keepTemporary = false
            defer { if !keepTemporary { unlinkat(parent, temporary, 0) } }
            let status: stat
            do {
                defer { close(fd) }
                try writeAll(fd, bytes, key: key)
                if let modificationTime {
                    let seconds = modificationTime.rounded(.down)
                    let spec = timespec(tv_sec: Int(seconds), tv_nsec: Int(((modificationTime - seconds) * 1e9).rounded(.down)))
                    var times = [spec, spec]
                    guard futimens(fd, &times) == 0 else { throw ioError("futimens failed", key: key) }
                }
                guard fsync(fd) == 0 else { throw ioError("fsync failed", key: key) }
                var s = stat()
                guard fstat(fd, &s) == 0 else { throw ioError("fstat failed", key: key) }
                status = s
            }
            if renameat(parent, temporary, parent, leaf) != 0 {
                let code = errno
                if code == ENOENT, attempt < 7 { continue }
                if code == EISDIR || code == ENOTEMPTY || code == EEXIST || code == ENOTDIR {
                    throw StorageError(.conflict, key: key.rawValue, "the key is a directory of other objects, so it cannot also be an object")
                }
                throw ioError("rename failed", key: key, code)
            }
            keepTemporary = true  // it is the object now
            // Make the rename itself durable.
            _ = fsync(parent)
            return info(key: key, status: status)
        }
        throw StorageError(.ioFailure, key: key.rawValue, "the key's directory kept disappearing during the write")
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], key: ObjectKey) throws {
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let chunk = min(buffer.count - offset, 1 << 30)
                let written = write(fd, buffer.baseAddress! + offset, chunk)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw ioError("write failed", key: key)
                }
                offset += written
            }
        }
    }

    /// Opens the object's file, or returns nil when there is no such object.
    private static func openObject(root: String, key: ObjectKey) throws -> Int32? {
        let segments = key.segments
        guard case .found(let chain) = try walk(root: root, directories: segments.dropLast(), create: false, key: key) else {
            return nil
        }
        defer { closeAll(chain) }
        let fd = openat(chain.last!, String(segments.last!), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw ioError("cannot open the object", key: key)
        }
        return fd
    }

    static func getBlocking(root: String, key: ObjectKey, limit: Int) throws -> ReadResult {
        guard let fd = try openObject(root: root, key: key) else {
            throw StorageError(.notFound, key: key.rawValue, "no such object")
        }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw ioError("fstat failed", key: key) }
        guard isRegularFile(status) else {
            throw StorageError(.notFound, key: key.rawValue, "no such object (the path is a directory of objects)")
        }
        let size = Int(status.st_size)
        guard size <= limit else {
            throw StorageError(.sizeLimitExceeded, key: key.rawValue, "the object has \(size) bytes, the limit is \(limit)")
        }
        // The file we hold open is immutable by this store's writers (they replace it by rename);
        // if someone else truncates or extends it in place, say so rather than return a mixture.
        var failure: StorageError? = nil
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var offset = 0
            while offset < size {
                let count = read(fd, buffer.baseAddress! + offset, size - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    failure = ioError("read failed", key: key)
                    break
                }
                if count == 0 {
                    failure = StorageError(.ioFailure, key: key.rawValue, "the file shrank while being read (modified in place outside this store)")
                    break
                }
                offset += count
            }
            initialized = failure == nil ? size : 0
        }
        if let failure { throw failure }
        var extra: UInt8 = 0
        if read(fd, &extra, 1) > 0 {
            throw StorageError(.ioFailure, key: key.rawValue, "the file grew while being read (modified in place outside this store)")
        }
        return ReadResult(info: info(key: key, status: status), bytes: bytes)
    }

    static func headBlocking(root: String, key: ObjectKey) throws -> ObjectInfo? {
        let segments = key.segments
        guard case .found(let chain) = try walk(root: root, directories: segments.dropLast(), create: false, key: key) else {
            return nil
        }
        defer { closeAll(chain) }
        var status = stat()
        if fstatat(chain.last!, String(segments.last!), &status, AT_SYMLINK_NOFOLLOW) != 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw ioError("stat failed", key: key)
        }
        // Directories are not objects; neither are links or devices someone placed here.
        guard isRegularFile(status) else { return nil }
        return info(key: key, status: status)
    }

    static func deleteBlocking(root: String, key: ObjectKey) throws {
        let segments = key.segments
        guard case .found(let chain) = try walk(root: root, directories: segments.dropLast(), create: false, key: key) else {
            return
        }
        defer { closeAll(chain) }
        var status = stat()
        guard fstatat(chain.last!, String(segments.last!), &status, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return }
            throw ioError("stat failed", key: key)
        }
        guard isRegularFile(status) else { return }  // a directory of objects is not an object
        if unlinkat(chain.last!, String(segments.last!), 0) != 0, errno != ENOENT {
            throw ioError("unlink failed", key: key)
        }
        // Prune directories the deletion left empty (best effort: a failure means not empty,
        // or a concurrent writer, which is fine).
        var level = chain.count - 1
        while level >= 1 {
            if unlinkat(chain[level - 1], String(segments[level - 1]), AT_REMOVEDIR) != 0 { break }
            level -= 1
        }
    }

    /// Reads a directory's entry names (excluding `.` and `..`) with their types.
    private static func entries(of fd: Int32, key: ObjectKey?) throws -> [(name: String, isDirectory: Bool, isFile: Bool)] {
        let copy = dup(fd)
        guard copy >= 0, let directory = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            throw ioError("cannot read a directory", key: key)
        }
        defer { closedir(directory) }
        var result: [(String, Bool, Bool)] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name == "." || name == ".." { continue }
            var type = Int32(entry.pointee.d_type)
            if type == Int32(DT_UNKNOWN) {
                var status = stat()
                guard fstatat(fd, name, &status, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
                type = (status.st_mode & S_IFMT) == S_IFDIR ? Int32(DT_DIR) : (isRegularFile(status) ? Int32(DT_REG) : Int32(DT_LNK))
            }
            result.append((name, type == Int32(DT_DIR), type == Int32(DT_REG)))
        }
        return result
    }

    /// Whether a directory entry's name can be a key segment.
    private static func isSegment(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= ObjectKey.maximumSegmentLength && !name.hasPrefix(".")
            && name.utf8.allSatisfy(ObjectKey.isAllowed)
    }

    static func listBlocking(root: String, prefix: String, after: String?, pageSize: Int) throws -> ObjectListing {
        // Start at the deepest directory the prefix names completely.
        let directoryPart: Substring
        let namePrefix: Substring
        if let slash = prefix.lastIndex(of: "/") {
            directoryPart = prefix[..<slash]
            namePrefix = prefix[prefix.index(after: slash)...]
        } else {
            directoryPart = ""
            namePrefix = Substring(prefix)
        }
        let directories = directoryPart.isEmpty ? [] : directoryPart.split(separator: "/", omittingEmptySubsequences: false)
        guard case .found(let chain) = try walk(root: root, directories: directories[...], create: false, key: nil) else {
            return ObjectListing(objects: [], continuation: nil)
        }
        defer { closeAll(chain) }
        let base = directoryPart.isEmpty ? "" : directoryPart + "/"

        var keys: [String] = []
        func visit(_ fd: Int32, path: String, filter: Substring?) throws {
            for entry in try entries(of: fd, key: nil) where isSegment(entry.name) {
                if let filter, !entry.name.hasPrefix(filter) { continue }
                let candidate = path + entry.name
                if entry.isFile {
                    if let after, !after.utf8.lexicographicallyPrecedes(candidate.utf8) { continue }
                    keys.append(candidate)
                } else if entry.isDirectory {
                    let child = openat(fd, entry.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    guard child >= 0 else { continue }  // vanished, or replaced by a link
                    defer { close(child) }
                    try visit(child, path: candidate + "/", filter: nil)
                }
            }
        }
        try visit(chain.last!, path: base, filter: namePrefix.isEmpty ? nil : namePrefix)
        keys.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }

        var objects: [ObjectInfo] = []
        objects.reserveCapacity(min(pageSize, keys.count))
        var consumed = 0
        for candidate in keys {
            if objects.count == pageSize { break }
            consumed += 1
            // Files with names outside the key grammar (or too long) are not objects.
            guard let key = try? ObjectKey(candidate) else { continue }
            if let info = try headBlocking(root: root, key: key) { objects.append(info) }
        }
        let more = consumed < keys.count
        return ObjectListing(objects: objects, continuation: more ? objects.last.map { ListContinuation($0.key.rawValue) } : nil)
    }

    static func sweepBlocking(root: String, olderThan age: TimeInterval) throws -> Int {
        let rootFD = try openRoot(root, key: nil)
        defer { close(rootFD) }
        let cutoff = Date().timeIntervalSince1970 - age
        var removed = 0
        func visit(_ fd: Int32) throws {
            for entry in try entries(of: fd, key: nil) {
                if entry.isFile, entry.name.hasPrefix(temporaryPrefix) {
                    var status = stat()
                    guard fstatat(fd, entry.name, &status, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
                    #if canImport(Darwin)
                    let modified = Double(status.st_mtimespec.tv_sec)
                    #else
                    let modified = Double(status.st_mtim.tv_sec)
                    #endif
                    if modified < cutoff, unlinkat(fd, entry.name, 0) == 0 { removed += 1 }
                } else if entry.isDirectory, isSegment(entry.name) {
                    let child = openat(fd, entry.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    guard child >= 0 else { continue }
                    defer { close(child) }
                    try visit(child)
                }
            }
        }
        try visit(rootFD)
        return removed
    }
}
