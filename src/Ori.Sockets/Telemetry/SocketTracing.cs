using System.Diagnostics;
using System.Text;

namespace Ori.Sockets.Telemetry;

/// <summary>
/// The runtime's traces, activity source <c>Ori.Sockets</c>: a server span per routed message (parented on the
/// envelope's W3C <c>traceparent</c>), a producer span per publish that leaves the instance, and a consumer span per
/// publish delivered from another instance (linked to the producer). Every method checks for a listener first:
/// with none, nothing is allocated or recorded.
/// </summary>
internal static class SocketTracing
{
    /// <summary>The activity source's name (what <c>AddSource</c> is given).</summary>
    public const string SourceName = "Ori.Sockets";

    /// <summary>The name of a routed message's span (its display name is the route).</summary>
    public const string MessageActivity = "ori.sockets.message";

    /// <summary>The name of a publish's span on the instance that publishes across the backplane.</summary>
    public const string PublishActivity = "ori.sockets.publish";

    /// <summary>The name of a delivery's span on an instance that received a publish from the backplane.</summary>
    public const string DeliverActivity = "ori.sockets.deliver";

    /// <summary>The route of a message whose type no route handles (one value: bounded cardinality).</summary>
    public const string UnknownRoute = "unknown";

    private static readonly ActivitySource s_source = new(SourceName, typeof(SocketTracing).Assembly.GetName().Version?.ToString(3));

    /// <summary>Whether anything listens to <c>Ori.Sockets</c> spans.</summary>
    public static bool IsOn => s_source.HasListeners();

    /// <summary>
    /// Starts a routed message's span: its parent is <paramref name="traceparent"/> when it is a valid W3C trace
    /// context, otherwise it is a root (a WebSocket's upgrade request lives as long as the socket; a message is not
    /// part of it). Null when nothing samples it. The caller restores <see cref="Activity.Current"/>.
    /// </summary>
    public static Activity? StartMessage(ReadOnlySpan<byte> traceparent, string socketId)
    {
        // Latin-1 maps each byte to one char: anything but ASCII fails to parse, and the span is a root (W3C: restart).
        ActivityContext parent = default;
        if (!traceparent.IsEmpty && !ActivityContext.TryParse(Encoding.Latin1.GetString(traceparent), null, isRemote: true, out parent))
        {
            parent = default;
        }

        Activity.Current = null;
        var activity = s_source.StartActivity(MessageActivity, ActivityKind.Server, parent);
        activity?.SetTag("ori.socket.id", socketId);
        return activity;
    }

    /// <summary>Ends a message's span with its route and outcome (an error status for the server's own failures).</summary>
    public static void StopMessage(Activity activity, string route, string? errorCode)
    {
        activity.DisplayName = route;
        activity.SetTag("ori.route", route);
        activity.SetTag("ori.outcome", errorCode ?? "ok");
        if (errorCode is SocketErrorCodes.InternalError or SocketErrorCodes.Unavailable)
        {
            activity.SetStatus(ActivityStatusCode.Error, errorCode);
        }

        activity.Stop();
    }

    /// <summary>
    /// Starts a producer span for a publish that goes to other instances (<paramref name="kind"/>: topic, send,
    /// broadcast, user), the child of the current span. Null when nothing listens.
    /// </summary>
    public static Activity? StartPublish(string kind, string? target)
    {
        if (!s_source.HasListeners())
        {
            return null;
        }

        var activity = s_source.StartActivity(PublishActivity, ActivityKind.Producer);
        if (activity is { IsAllDataRequested: true })
        {
            activity.DisplayName = PublishActivity + " " + kind;
            activity.SetTag("ori.publish.kind", kind);
            activity.SetTag("ori.publish.target", target);
        }

        return activity;
    }

    /// <summary>
    /// The trace context to carry with a publish to other instances: the current span's, as a W3C
    /// <c>traceparent</c>; null when there is none (nothing is carried, and nothing allocated).
    /// </summary>
    public static string? CurrentTraceparent() =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C } current ? current.Id : null;

    /// <summary>
    /// Starts a consumer span for a publish received from another instance, linked to the publish's span
    /// (<paramref name="traceparent"/>) rather than parented on it: one publish fans out to many instances.
    /// Null when nothing listens or the context is not valid.
    /// </summary>
    public static Activity? StartDeliver(string? traceparent, string kind, string target, out Activity? previous)
    {
        previous = null;
        if (traceparent is null || !s_source.HasListeners() || !ActivityContext.TryParse(traceparent, null, isRemote: true, out var publish))
        {
            return null;
        }

        previous = Activity.Current;
        Activity.Current = null;
        var activity = s_source.StartActivity(DeliverActivity, ActivityKind.Consumer, default(ActivityContext), tags: null, links: [new ActivityLink(publish)]);
        if (activity is null)
        {
            Activity.Current = previous;
            return null;
        }

        activity.DisplayName = DeliverActivity + " " + kind;
        activity.SetTag("ori.publish.kind", kind);
        activity.SetTag("ori.publish.target", target);
        return activity;
    }

    /// <summary>Ends a delivery's span (when there is one) and makes <paramref name="previous"/> current again.</summary>
    public static void StopDeliver(Activity? activity, Activity? previous)
    {
        if (activity is not null)
        {
            activity.Stop();
            Activity.Current = previous;
        }
    }
}
