using System.Text.Json;
using Microsoft.Extensions.Logging;
using Ori.Sockets.Protocol;
using Ori.Sockets.Telemetry;

namespace Ori.Sockets.PubSub;

/// <summary>
/// The <c>ori.presence</c> pushes of the topics the application chose (option <c>PresenceEvents</c>): joins and leaves of
/// this instance's sockets are gathered for a short window and published to the topic as one push per topic (at most
/// <see cref="MaxMembersPerPush"/> members a push), so that thousands joining at once make a handful of pushes. A socket
/// that joins and leaves within one window appears in neither list. Published through the provider: every member on
/// every instance gets them.
/// </summary>
internal sealed class PresenceEvents : IDisposable
{
    /// <summary>The most members one push lists (joined and left together).</summary>
    public const int MaxMembersPerPush = 500;

    private readonly ISocketEmitter _emitter;
    private readonly ISocketPresenceHandler[] _handlers;
    private readonly Func<string, bool> _topics;
    private readonly TimeSpan _window;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private Dictionary<string, Batch> _pending = new(StringComparer.Ordinal);
    private ITimer? _timer;

    public PresenceEvents(SocketHub hub, ISocketEmitter emitter, IEnumerable<ISocketPresenceHandler> handlers, Func<string, bool>? topics, TimeSpan window, TimeProvider time, ILogger logger)
    {
        _emitter = emitter;
        _handlers = [.. handlers];
        _topics = topics ?? (static _ => false);
        _window = window;
        _time = time;
        _logger = logger;
        if (topics is not null)
        {
            hub.MembershipChanged += OnMembershipChanged;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _timer?.Dispose();
            _timer = null;
        }
    }

    private void OnMembershipChanged(string topic, SocketPresenceMember member, bool joined)
    {
        if (!_topics(topic))
        {
            return;
        }

        lock (_lock)
        {
            if (!_pending.TryGetValue(topic, out var batch))
            {
                _pending[topic] = batch = new Batch();
            }

            if (joined)
            {
                batch.Joined[member.SocketId] = member;
            }
            else if (!batch.Joined.Remove(member.SocketId))
            {
                batch.Left[member.SocketId] = member;
            }

            _timer ??= _time.CreateTimer(static state => ((PresenceEvents)state!).Flush(), this, _window, Timeout.InfiniteTimeSpan);
        }
    }

    private void Flush()
    {
        Dictionary<string, Batch> batches;
        lock (_lock)
        {
            batches = _pending;
            _pending = new(StringComparer.Ordinal);
            _timer?.Dispose();
            _timer = null;
        }

        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var (topic, batch) in batches)
        {
            var joined = batch.Joined.Values.ToList();
            var left = batch.Left.Values.ToList();
            foreach (var handler in _handlers)
            {
                _ = HandleAsync(handler, topic, joined, left);
            }

            for (int j = 0, l = 0; j < joined.Count || l < left.Count;)
            {
                var takeJoined = Math.Min(joined.Count - j, MaxMembersPerPush);
                var takeLeft = Math.Min(left.Count - l, MaxMembersPerPush - takeJoined);
                var frame = EnvelopeFrames.Push(WireNames.Presence, (topic, joined.GetRange(j, takeJoined), left.GetRange(l, takeLeft)), static (writer, state) => Write(writer, state.topic, state.Item2, state.Item3), now);
                j += takeJoined;
                l += takeLeft;
                _ = PublishAsync(topic, frame);
            }
        }
    }

    private async Task HandleAsync(ISocketPresenceHandler handler, string topic, List<SocketPresenceMember> joined, List<SocketPresenceMember> left)
    {
        try
        {
            await handler.OnPresenceChangedAsync(topic, joined, left).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Application code: its failure is logged and the next batch is handled.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            SocketLog.PresenceHandlerFailed(_logger, handler.GetType().Name, topic, ex);
        }
    }

    private async Task PublishAsync(string topic, SocketFrame frame)
    {
        try
        {
            await _emitter.PublishAsync(topic, frame).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A presence push that could not cross instances is logged; the members here got it.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            SocketLog.PresencePushFailed(_logger, topic, ex.Message);
        }
    }

    private static void Write(Utf8JsonWriter writer, string topic, List<SocketPresenceMember> joined, List<SocketPresenceMember> left)
    {
        writer.WriteStartObject();
        writer.WriteString(WireNames.Members.Topic, topic);
        WriteMembers(writer, WireNames.Members.Joined, joined);
        WriteMembers(writer, WireNames.Members.Left, left);
        writer.WriteEndObject();
    }

    /// <summary>Members as the protocol writes them: <c>[{"userId": …, "socketId": …}]</c>.</summary>
    internal static void WriteMembers(Utf8JsonWriter writer, ReadOnlySpan<byte> name, IReadOnlyList<SocketPresenceMember> members)
    {
        writer.WriteStartArray(name);
        foreach (var member in members)
        {
            writer.WriteStartObject();
            writer.WriteString(WireNames.Members.UserId, member.UserId);
            writer.WriteString(WireNames.Members.SocketId, member.SocketId);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    private sealed class Batch
    {
        public Dictionary<string, SocketPresenceMember> Joined { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, SocketPresenceMember> Left { get; } = new(StringComparer.Ordinal);
    }
}
