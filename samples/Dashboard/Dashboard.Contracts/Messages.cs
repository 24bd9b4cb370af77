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

/// <summary>Subscribes the sender to a project's monitors and incidents.</summary>
/// <param name="ProjectId">The project, 1 to 64 characters.</param>
[SocketMessage("subscribe.project")]
public sealed partial record SubscribeProject([property: Required, StringLength(64, MinimumLength = 1), RegularExpression("^[A-Za-z0-9_-]+$")] string ProjectId) : ISocketRequest<ProjectSubscribed>;

/// <summary>The reply to <see cref="SubscribeProject"/>.</summary>
/// <param name="Subscribed">Always true.</param>
/// <param name="ProjectId">The project subscribed to.</param>
public sealed record ProjectSubscribed(bool Subscribed, string ProjectId);

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
