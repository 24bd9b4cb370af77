using Dashboard.Contracts;
using Ori.Sockets;

namespace Dashboard.Server;

/// <summary>
/// Where the dashboard's sockets connect (<c>app.MapOriSockets&lt;DashboardSocket&gt;("/ws")</c>): every connection passes
/// <see cref="TokenGuard"/>, which sets the <see cref="DashboardUser"/> the routes of <see cref="DashboardRouter"/> read.
/// The generator checks that pairing at compile time.
/// </summary>
[SocketEndpoint(typeof(DashboardRouter))]
[ConnectionGuard(typeof(TokenGuard))]
public sealed partial class DashboardSocket;

/// <summary>
/// The dashboard's WebSocket routes. The generator compiles them into the dispatch table. A project's monitors and
/// incidents keep a history (the last 100 pushes or 10 minutes): a client that reconnects gets what it missed.
/// </summary>
/// <param name="presence">Who is online.</param>
[RecoverableTopic("monitors:*", MaxMessages = 100, MaxAgeSeconds = 600)]
[RecoverableTopic("incidents:*", MaxMessages = 100, MaxAgeSeconds = 600)]
public sealed class DashboardRouter(IPresenceStore presence)
{
    /// <summary>Sets the sender's presence and tells the account.</summary>
    [SocketRoute("presence.update")]
    public async ValueTask<PresenceAck> UpdatePresence(PresenceUpdate update, SocketContext<DashboardUser> context)
    {
        await presence.SetAsync(context.State, update.Status);
        await context.Emitter.EmitAsync(Topics.Account(context.State.AccountId), new PresenceChanged(context.State.UserId, update.Status), cancellationToken: context.Aborted);
        return new PresenceAck(true);
    }

    /// <summary>
    /// Subscribes the sender to a project of its own account: its monitors and its incidents, each recovered from the
    /// position the client sent (the missed pushes come before this reply, in order).
    /// </summary>
    [SocketRoute("subscribe.project")]
    public async ValueTask<ProjectSubscribed> SubscribeProject(SubscribeProject request, SocketContext<DashboardUser> context)
    {
        var account = context.State.AccountId;
        var monitors = await SubscribeAsync(context, Topics.Monitors(account, request.ProjectId), request.Monitors);
        var incidents = await SubscribeAsync(context, Topics.Incidents(account, request.ProjectId), request.Incidents);
        return new ProjectSubscribed(true, request.ProjectId, monitors, incidents);
    }

    private static async ValueTask<TopicSubscription> SubscribeAsync(SocketContext<DashboardUser> context, string topic, TopicPosition? from)
    {
        var subscription = await context.SubscribeAsync(topic, from is null ? null : new SocketPosition(from.Epoch, from.Offset), context.Aborted);
        var latest = subscription.Position ?? new SocketPosition(string.Empty, 0);
        return new TopicSubscription(topic, subscription.Recovered, latest.Epoch, latest.Offset);
    }
}
