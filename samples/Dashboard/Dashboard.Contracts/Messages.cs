using System.ComponentModel.DataAnnotations;
using Ori.Sockets;

namespace Dashboard.Contracts;

// Requests a client sends (with the reply each one gets).

/// <summary>Sets the sender's presence; everyone in the account sees <see cref="PresenceChanged"/>.</summary>
/// <param name="Status">One of active, idle, away.</param>
[SocketMessage("presence.update")]
public sealed partial record PresenceUpdate([property: Required, AllowedValues("active", "idle", "away")] string Status) : ISocketRequest<PresenceAck>;

/// <summary>The reply to <see cref="PresenceUpdate"/>.</summary>
/// <param name="Updated">Always true: a refused update gets an error reply instead.</param>
public sealed record PresenceAck(bool Updated);

/// <summary>
/// Subscribes the sender to a project's monitors and incidents. Both topics keep a history (the last 100 pushes or
/// 10 minutes): with the last position seen on each, what was missed is delivered first.
/// </summary>
/// <param name="ProjectId">The project, 1 to 64 characters.</param>
/// <param name="Monitors">The last position seen on the project's monitors topic, to recover from; optional.</param>
/// <param name="Incidents">The last position seen on the project's incidents topic, to recover from; optional.</param>
[SocketMessage("subscribe.project")]
public sealed partial record SubscribeProject(
    [property: Required, StringLength(64, MinimumLength = 1), RegularExpression("^[A-Za-z0-9_-]+$")] string ProjectId,
    TopicPosition? Monitors = null,
    TopicPosition? Incidents = null) : ISocketRequest<ProjectSubscribed>;

/// <summary>A position in a recoverable topic's history, as a push carried it.</summary>
/// <param name="Epoch">The history's epoch, 1 to 64 characters.</param>
/// <param name="Offset">The offset of the last push seen (0 or more).</param>
public sealed record TopicPosition(
    [property: Required, StringLength(64, MinimumLength = 1)] string Epoch,
    [property: Range(0, long.MaxValue)] long Offset);

/// <summary>The reply to <see cref="SubscribeProject"/>.</summary>
/// <param name="Subscribed">Always true.</param>
/// <param name="ProjectId">The project subscribed to.</param>
/// <param name="Monitors">The monitors topic: its name, whether it recovered, its latest position.</param>
/// <param name="Incidents">The incidents topic: its name, whether it recovered, its latest position.</param>
public sealed record ProjectSubscribed(bool Subscribed, string ProjectId, TopicSubscription Monitors, TopicSubscription Incidents);

/// <summary>One topic a subscription took.</summary>
/// <param name="Topic">The topic (a client may also join it as a room).</param>
/// <param name="Recovered">Whether everything after the position sent was delivered (false when none was sent).</param>
/// <param name="Epoch">The history's epoch now.</param>
/// <param name="Offset">The latest offset.</param>
public sealed record TopicSubscription(string Topic, bool Recovered, string Epoch, long Offset);

// Pushes the server sends.

/// <summary>A user of the account changed presence (pushed to <c>account:{accountId}</c>).</summary>
/// <param name="UserId">The user.</param>
/// <param name="Status">active, idle, away, or offline when the user's last socket closed.</param>
[SocketMessage("presence.changed")]
public sealed partial record PresenceChanged(string UserId, string Status);

/// <summary>An incident was created in a project (pushed to <c>incidents:{accountId}:{projectId}</c>).</summary>
/// <param name="Id">The incident.</param>
/// <param name="Title">What happened.</param>
/// <param name="Severity">How bad it is.</param>
/// <param name="MonitorId">The monitor that saw it.</param>
[SocketMessage("incident.created")]
public sealed partial record IncidentCreated(string Id, string Title, string Severity, string MonitorId);

/// <summary>A monitor changed status (pushed to <c>monitors:{accountId}:{projectId}</c>).</summary>
/// <param name="MonitorId">The monitor.</param>
/// <param name="PreviousStatus">Its status before: up, degraded or down.</param>
/// <param name="CurrentStatus">Its status now.</param>
/// <param name="CheckedAt">When it was checked.</param>
[SocketMessage("monitor.status_changed")]
public sealed partial record MonitorStatusChanged(string MonitorId, string PreviousStatus, string CurrentStatus, DateTimeOffset CheckedAt);

// The body of POST /api/incidents: an HTTP body validated by the same generated validator.

/// <summary>Creates an incident in a project of the caller's account.</summary>
/// <param name="ProjectId">The project, 1 to 64 characters.</param>
/// <param name="Title">What happened, 1 to 200 characters.</param>
/// <param name="Severity">How bad it is, 1 to 32 characters (low, medium, high, critical...).</param>
/// <param name="MonitorId">The monitor that saw it, 1 to 64 characters.</param>
[SocketMessage("incident.create")]
public sealed partial record CreateIncident(
    [property: Required, StringLength(64, MinimumLength = 1)] string ProjectId,
    [property: Required, StringLength(200, MinimumLength = 1)] string Title,
    [property: Required, StringLength(32, MinimumLength = 1)] string Severity,
    [property: Required, StringLength(64, MinimumLength = 1)] string MonitorId);

/// <summary>The body of <c>POST /api/users/{userId}/notify</c>: a note for every device of a user.</summary>
/// <param name="Text">The note, 1 to 500 characters.</param>
[SocketMessage("user.notify")]
public sealed partial record NotifyUser(
    [property: Required, StringLength(500, MinimumLength = 1)] string Text);

/// <summary>A note another user of the account sent to every device of this one.</summary>
/// <param name="From">Who sent it.</param>
/// <param name="Text">The note.</param>
[SocketMessage("notification")]
public sealed partial record Notification(string From, string Text);
