#include "pv/store/store_tree.h"

#include <vector>

#include "pv/store/store_path.h"

namespace popek::pv {

NodeTree::NodeTree(uint64_t* generation_counter) : m_generation(generation_counter) {
    Node root;
    root.perms = {PermEntry{kControlDomain, Access::None}};
    root.generation = next_generation();
    m_nodes.emplace("/", std::move(root));
    count_owner(m_nodes["/"].perms, +1);
}

void NodeTree::note_access(const std::string& path) {
    if (!m_tracking || m_accessed.contains(path)) return;
    m_accessed.emplace(path, generation_of(path));
}

void NodeTree::note_change(const std::string& path) {
    note_access(path);
    if (m_tracking) m_changed.insert(path);
}

std::optional<uint64_t> NodeTree::generation_of(const std::string& path) const {
    auto it = m_nodes.find(path);
    if (it == m_nodes.end()) return std::nullopt;
    return it->second.generation;
}

const Node* NodeTree::find(const std::string& path) {
    note_access(path);
    auto it = m_nodes.find(path);
    return it == m_nodes.end() ? nullptr : &it->second;
}

void NodeTree::count_owner(const Perms& perms, int delta) {
    if (perms.empty()) return;
    uint32_t& n = m_owned[perms[0].domid];
    n = static_cast<uint32_t>(static_cast<int64_t>(n) + delta);
}

uint32_t NodeTree::nodes_owned(DomId domid) const {
    auto it = m_owned.find(domid);
    return it == m_owned.end() ? 0 : it->second;
}

void NodeTree::put(const std::string& path, std::string value, const Perms& perms) {
    note_change(path);
    auto it = m_nodes.find(path);
    if (it != m_nodes.end()) {
        it->second.value = std::move(value);
        it->second.generation = next_generation();
        return;
    }
    std::string parent = parent_path(path);
    note_change(parent);
    Node& p = m_nodes.at(parent);
    p.children.emplace(base_name(path));
    p.generation = next_generation();
    Node n;
    n.value = std::move(value);
    n.perms = perms;
    n.generation = next_generation();
    count_owner(n.perms, +1);
    m_nodes.emplace(path, std::move(n));
}

void NodeTree::set_value(const std::string& path, std::string value) {
    note_change(path);
    Node& n = m_nodes.at(path);
    n.value = std::move(value);
    n.generation = next_generation();
}

void NodeTree::set_perms(const std::string& path, Perms perms) {
    note_change(path);
    Node& n = m_nodes.at(path);
    count_owner(n.perms, -1);
    n.perms = std::move(perms);
    count_owner(n.perms, +1);
    n.generation = next_generation();
}

void NodeTree::remove(const std::string& path) {
    if (path == "/") return;
    auto it = m_nodes.find(path);
    if (it == m_nodes.end()) return;
    // Depth-first over an explicit stack: guests control the depth.
    std::vector<std::string> stack{path};
    while (!stack.empty()) {
        std::string cur = std::move(stack.back());
        stack.pop_back();
        auto node = m_nodes.find(cur);
        if (node == m_nodes.end()) continue;
        for (const std::string& c : node->second.children) stack.push_back(child_path(cur, c));
        note_change(cur);
        count_owner(node->second.perms, -1);
        m_nodes.erase(node);
    }
    std::string parent = parent_path(path);
    note_change(parent);
    Node& p = m_nodes.at(parent);
    p.children.erase(std::string(base_name(path)));
    p.generation = next_generation();
}

void NodeTree::apply_to(NodeTree& target, const std::string& path) const {
    auto mine = m_nodes.find(path);
    auto theirs = target.m_nodes.find(path);
    if (theirs != target.m_nodes.end()) target.count_owner(theirs->second.perms, -1);
    if (mine == m_nodes.end()) {
        if (theirs != target.m_nodes.end()) target.m_nodes.erase(theirs);
        return;
    }
    Node copy = mine->second;
    copy.generation = target.next_generation();
    target.count_owner(copy.perms, +1);
    target.m_nodes.insert_or_assign(path, std::move(copy));
}

}  // namespace popek::pv
